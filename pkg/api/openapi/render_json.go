package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// flavor selects the OpenAPI version a schema is rendered for.
type flavor int

const (
	v2 flavor = iota
	v3
)

func (f flavor) refPrefix() string {
	if f == v2 {
		return "#/definitions/"
	}
	return "#/components/schemas/"
}

// jsonSchema is the wire form of a schema. Fields are in the order of their
// JSON keys, as encoding/json renders maps, so documents look like upstream's.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Format               string                 `json:"format,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	GVK                  []gvk                  `json:"x-kubernetes-group-version-kind,omitempty"`
	PatchMergeKey        string                 `json:"x-kubernetes-patch-merge-key,omitempty"`
	PatchStrategy        string                 `json:"x-kubernetes-patch-strategy,omitempty"`
}

// toJSON renders s. OpenAPI v3 ignores the siblings of a $ref, so there a
// reference that carries a description or extensions is wrapped in allOf, and
// the string-or-number types become oneOf (which kubectl explain prints by
// their type name, as upstream does).
func (s *node) toJSON(f flavor) *jsonSchema {
	if s == nil {
		return nil
	}
	out := &jsonSchema{
		Description:   s.description,
		Format:        s.format,
		Type:          s.typ,
		Required:      s.required,
		GVK:           s.gvks,
		PatchMergeKey: s.patchMergeKey,
		PatchStrategy: s.patchStrategy,
		Items:         s.items.toJSON(f),
	}
	if s.additional != nil {
		out.AdditionalProperties = s.additional.toJSON(f)
	}
	if s.ref != "" {
		ref := f.refPrefix() + s.ref
		if f == v3 && (s.description != "" || s.patchStrategy != "" || s.patchMergeKey != "") {
			out.AllOf = []*jsonSchema{{Ref: ref}}
		} else {
			out.Ref = ref
		}
	}
	if f == v3 && len(s.oneOf) > 0 {
		out.Type = ""
		for _, t := range s.oneOf {
			out.OneOf = append(out.OneOf, &jsonSchema{Type: t})
		}
	}
	if len(s.properties) > 0 {
		out.Properties = make(map[string]*jsonSchema, len(s.properties))
		for _, p := range s.properties {
			out.Properties[p.name] = p.schema.toJSON(f)
		}
	}
	return out
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// Wire forms of paths, v2.

type v2PathItem struct {
	Delete     *v2Operation `json:"delete,omitempty"`
	Get        *v2Operation `json:"get,omitempty"`
	Head       *v2Operation `json:"head,omitempty"`
	Options    *v2Operation `json:"options,omitempty"`
	Parameters []v2Param    `json:"parameters,omitempty"`
	Patch      *v2Operation `json:"patch,omitempty"`
	Post       *v2Operation `json:"post,omitempty"`
	Put        *v2Operation `json:"put,omitempty"`
}

type v2Operation struct {
	Consumes    []string              `json:"consumes,omitempty"`
	Description string                `json:"description,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []v2Param             `json:"parameters,omitempty"`
	Produces    []string              `json:"produces,omitempty"`
	Responses   map[string]v2Response `json:"responses"`
	Tags        []string              `json:"tags,omitempty"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvk                  `json:"x-kubernetes-group-version-kind,omitempty"`
}

type v2Param struct {
	Description string      `json:"description,omitempty"`
	In          string      `json:"in"`
	Name        string      `json:"name"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema,omitempty"`
	Type        string      `json:"type,omitempty"`
	UniqueItems bool        `json:"uniqueItems,omitempty"`
}

type v2Response struct {
	Description string      `json:"description"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

// Wire forms of paths, v3.

type v3PathItem struct {
	Delete     *v3Operation `json:"delete,omitempty"`
	Get        *v3Operation `json:"get,omitempty"`
	Head       *v3Operation `json:"head,omitempty"`
	Options    *v3Operation `json:"options,omitempty"`
	Parameters []v3Param    `json:"parameters,omitempty"`
	Patch      *v3Operation `json:"patch,omitempty"`
	Post       *v3Operation `json:"post,omitempty"`
	Put        *v3Operation `json:"put,omitempty"`
}

type v3Operation struct {
	Description string                `json:"description,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []v3Param             `json:"parameters,omitempty"`
	RequestBody *v3Body               `json:"requestBody,omitempty"`
	Responses   map[string]v3Response `json:"responses"`
	Tags        []string              `json:"tags,omitempty"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvk                  `json:"x-kubernetes-group-version-kind,omitempty"`
}

type v3Param struct {
	Description string      `json:"description,omitempty"`
	In          string      `json:"in"`
	Name        string      `json:"name"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema"`
}

type v3Media struct {
	Schema *jsonSchema `json:"schema"`
}

type v3Body struct {
	Content map[string]v3Media `json:"content"`
}

type v3Response struct {
	Content     map[string]v3Media `json:"content,omitempty"`
	Description string             `json:"description"`
}

func v2Params(ps []param) []v2Param {
	out := make([]v2Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v2Param{
			Description: p.description, In: p.in, Name: p.name, Required: p.required,
			Type: p.typ, UniqueItems: true,
		})
	}
	return out
}

func v3Params(ps []param) []v3Param {
	out := make([]v3Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v3Param{
			Description: p.description, In: p.in, Name: p.name, Required: p.required,
			Schema: &jsonSchema{Type: p.typ},
		})
	}
	return out
}

func (op *operation) tags() []string {
	if op.tag == "" {
		return nil
	}
	return []string{op.tag}
}

// bodyRequired: a delete may come without DeleteOptions; other bodies are the
// object or patch itself.
func (op *operation) bodyRequired() bool {
	return op.action != "delete" && op.action != "deletecollection"
}

func (op *operation) toV2() *v2Operation {
	out := &v2Operation{
		Consumes: op.consumes, Description: op.description, OperationID: op.id,
		Parameters: v2Params(op.params), Produces: op.produces,
		Responses: map[string]v2Response{}, Tags: op.tags(), Action: op.action, GVK: op.gvk,
	}
	if op.body != nil {
		out.Parameters = append(out.Parameters, v2Param{
			In: "body", Name: "body", Required: op.bodyRequired(),
			Schema: op.body.toJSON(v2),
		})
	}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	for _, r := range op.responses {
		out.Responses[r.code] = v2Response{Description: r.description, Schema: r.schema.toJSON(v2)}
	}
	return out
}

func (op *operation) toV3() *v3Operation {
	out := &v3Operation{
		Description: op.description, OperationID: op.id, Parameters: v3Params(op.params),
		Responses: map[string]v3Response{}, Tags: op.tags(), Action: op.action, GVK: op.gvk,
	}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	if op.body != nil {
		body := op.body.toJSON(v3)
		out.RequestBody = &v3Body{Content: map[string]v3Media{}}
		for _, m := range op.consumes {
			out.RequestBody.Content[m] = v3Media{Schema: body}
		}
	}
	for _, r := range op.responses {
		resp := v3Response{Description: r.description}
		if r.schema != nil {
			s := r.schema.toJSON(v3)
			resp.Content = map[string]v3Media{}
			for _, m := range op.produces {
				resp.Content[m] = v3Media{Schema: s}
			}
		}
		out.Responses[r.code] = resp
	}
	return out
}

func (it *pathItem) toV2() *v2PathItem {
	out := &v2PathItem{Parameters: v2Params(it.params)}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	for m, op := range it.ops {
		*v2Slot(out, m) = op.toV2()
	}
	return out
}

func (it *pathItem) toV3() *v3PathItem {
	out := &v3PathItem{Parameters: v3Params(it.params)}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	for m, op := range it.ops {
		*v3Slot(out, m) = op.toV3()
	}
	return out
}

func v2Slot(p *v2PathItem, method string) **v2Operation {
	switch method {
	case http.MethodDelete:
		return &p.Delete
	case http.MethodGet:
		return &p.Get
	case http.MethodHead:
		return &p.Head
	case http.MethodOptions:
		return &p.Options
	case http.MethodPatch:
		return &p.Patch
	case http.MethodPost:
		return &p.Post
	case http.MethodPut:
		return &p.Put
	}
	panic("openapi: no slot for method " + method)
}

func v3Slot(p *v3PathItem, method string) **v3Operation {
	switch method {
	case http.MethodDelete:
		return &p.Delete
	case http.MethodGet:
		return &p.Get
	case http.MethodHead:
		return &p.Head
	case http.MethodOptions:
		return &p.Options
	case http.MethodPatch:
		return &p.Patch
	case http.MethodPost:
		return &p.Post
	case http.MethodPut:
		return &p.Put
	}
	panic("openapi: no slot for method " + method)
}

// marshal is json.Marshal without HTML escaping, which only makes descriptions
// such as "<quantity>" harder to read.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderedDefs holds each definition marshalled once, so that documents which
// share definitions are assembled by copying bytes.
type renderedDefs map[string][]byte

func renderDefs(defs map[string]*node, f flavor) (renderedDefs, error) {
	out := make(renderedDefs, len(defs))
	for name, s := range defs {
		b, err := marshal(s.toJSON(f))
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// writeTo writes the JSON object {"name": definition, ...} for names, which
// must be sorted.
func (r renderedDefs) writeTo(buf *bytes.Buffer, names []string) error {
	buf.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := marshal(name)
		if err != nil {
			return err
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(r[name])
	}
	buf.WriteByte('}')
	return nil
}
