package openapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	yaml "go.yaml.in/yaml/v3"
)

// The v2 protobuf document is built directly from the model rather than by
// parsing the JSON document with openapi_v2.ParseDocument (as kube-apiserver
// does): parsing megabytes of JSON through a YAML node tree takes far longer
// than the whole of Build. The tests check that both routes give an equal
// message.

// extensions renders vendor extension values the way gnostic does when it
// parses a document: as YAML, in block style. The few distinct values are
// rendered once.
type extensions map[string]*openapi_v2.Any

func (e extensions) value(key string, v any) (*openapi_v2.Any, error) {
	if a, ok := e[key]; ok {
		return a, nil
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("vendor extension %s: %w", key, err)
	}
	a := &openapi_v2.Any{Yaml: string(b)}
	e[key] = a
	return a, nil
}

func (e extensions) str(name, v string) (*openapi_v2.NamedAny, error) {
	a, err := e.value("s"+v, v)
	return &openapi_v2.NamedAny{Name: name, Value: a}, err
}

func gvkYAML(g gvk) map[string]string {
	return map[string]string{"group": g.Group, "kind": g.Kind, "version": g.Version}
}

func (e extensions) gvk(g *gvk) (*openapi_v2.NamedAny, error) {
	a, err := e.value("g"+g.Group+"/"+g.Version+"/"+g.Kind, gvkYAML(*g))
	return &openapi_v2.NamedAny{Name: "x-kubernetes-group-version-kind", Value: a}, err
}

func (e extensions) gvkList(gs []gvk) (*openapi_v2.NamedAny, error) {
	var key strings.Builder
	list := make([]map[string]string, 0, len(gs))
	for _, g := range gs {
		key.WriteString("l" + g.Group + "/" + g.Version + "/" + g.Kind)
		list = append(list, gvkYAML(g))
	}
	a, err := e.value(key.String(), list)
	return &openapi_v2.NamedAny{Name: "x-kubernetes-group-version-kind", Value: a}, err
}

func (s *node) toProto(e extensions) (*openapi_v2.Schema, error) {
	if s == nil {
		return nil, nil
	}
	out := &openapi_v2.Schema{
		Format:      s.format,
		Description: s.description,
		Required:    s.required,
	}
	if s.ref != "" {
		out.XRef = v2.refPrefix() + s.ref
	}
	if s.additional != nil {
		sub, err := s.additional.toProto(e)
		if err != nil {
			return nil, err
		}
		out.AdditionalProperties = &openapi_v2.AdditionalPropertiesItem{
			Oneof: &openapi_v2.AdditionalPropertiesItem_Schema{Schema: sub},
		}
	}
	if s.typ != "" {
		out.Type = &openapi_v2.TypeItem{Value: []string{s.typ}}
	}
	if s.items != nil {
		sub, err := s.items.toProto(e)
		if err != nil {
			return nil, err
		}
		out.Items = &openapi_v2.ItemsItem{Schema: []*openapi_v2.Schema{sub}}
	}
	if len(s.properties) > 0 {
		out.Properties = &openapi_v2.Properties{AdditionalProperties: make([]*openapi_v2.NamedSchema, 0, len(s.properties))}
		for _, p := range s.properties {
			sub, err := p.schema.toProto(e)
			if err != nil {
				return nil, err
			}
			out.Properties.AdditionalProperties = append(out.Properties.AdditionalProperties,
				&openapi_v2.NamedSchema{Name: p.name, Value: sub})
		}
	}
	// In the order of the JSON keys, as a parser would list them.
	if len(s.gvks) > 0 {
		x, err := e.gvkList(s.gvks)
		if err != nil {
			return nil, err
		}
		out.VendorExtension = append(out.VendorExtension, x)
	}
	if s.patchMergeKey != "" {
		x, err := e.str("x-kubernetes-patch-merge-key", s.patchMergeKey)
		if err != nil {
			return nil, err
		}
		out.VendorExtension = append(out.VendorExtension, x)
	}
	if s.patchStrategy != "" {
		x, err := e.str("x-kubernetes-patch-strategy", s.patchStrategy)
		if err != nil {
			return nil, err
		}
		out.VendorExtension = append(out.VendorExtension, x)
	}
	return out, nil
}

func protoParams(ps []param) []*openapi_v2.ParametersItem {
	out := make([]*openapi_v2.ParametersItem, 0, len(ps))
	for _, p := range ps {
		nb := &openapi_v2.NonBodyParameter{}
		if p.in == "path" {
			nb.Oneof = &openapi_v2.NonBodyParameter_PathParameterSubSchema{
				PathParameterSubSchema: &openapi_v2.PathParameterSubSchema{
					Required: p.required, In: p.in, Description: p.description, Name: p.name,
					Type: p.typ, UniqueItems: true,
				},
			}
		} else {
			nb.Oneof = &openapi_v2.NonBodyParameter_QueryParameterSubSchema{
				QueryParameterSubSchema: &openapi_v2.QueryParameterSubSchema{
					Required: p.required, In: p.in, Description: p.description, Name: p.name,
					Type: p.typ, UniqueItems: true,
				},
			}
		}
		out = append(out, parameterItem(&openapi_v2.Parameter{
			Oneof: &openapi_v2.Parameter_NonBodyParameter{NonBodyParameter: nb},
		}))
	}
	return out
}

func parameterItem(p *openapi_v2.Parameter) *openapi_v2.ParametersItem {
	return &openapi_v2.ParametersItem{Oneof: &openapi_v2.ParametersItem_Parameter{Parameter: p}}
}

func (op *operation) toProto(e extensions) (*openapi_v2.Operation, error) {
	out := &openapi_v2.Operation{
		Tags:        op.tags(),
		Description: op.description,
		OperationId: op.id,
		Produces:    op.produces,
		Consumes:    op.consumes,
		Parameters:  protoParams(op.params),
		Responses:   &openapi_v2.Responses{},
	}
	if op.body != nil {
		body, err := op.body.toProto(e)
		if err != nil {
			return nil, err
		}
		out.Parameters = append(out.Parameters, parameterItem(&openapi_v2.Parameter{
			Oneof: &openapi_v2.Parameter_BodyParameter{BodyParameter: &openapi_v2.BodyParameter{
				Name: "body", In: "body", Required: op.bodyRequired(), Schema: body,
			}},
		}))
	}
	// Response codes are JSON object keys, so a parser lists them sorted.
	responses := slices.Clone(op.responses)
	slices.SortFunc(responses, func(a, b response) int { return strings.Compare(a.code, b.code) })
	for _, r := range responses {
		resp := &openapi_v2.Response{Description: r.description}
		if r.schema != nil {
			s, err := r.schema.toProto(e)
			if err != nil {
				return nil, err
			}
			resp.Schema = &openapi_v2.SchemaItem{Oneof: &openapi_v2.SchemaItem_Schema{Schema: s}}
		}
		out.Responses.ResponseCode = append(out.Responses.ResponseCode, &openapi_v2.NamedResponseValue{
			Name:  r.code,
			Value: &openapi_v2.ResponseValue{Oneof: &openapi_v2.ResponseValue_Response{Response: resp}},
		})
	}
	if op.action != "" {
		x, err := e.str("x-kubernetes-action", op.action)
		if err != nil {
			return nil, err
		}
		out.VendorExtension = append(out.VendorExtension, x)
	}
	if op.gvk != nil {
		x, err := e.gvk(op.gvk)
		if err != nil {
			return nil, err
		}
		out.VendorExtension = append(out.VendorExtension, x)
	}
	return out, nil
}

func (it *pathItem) toProto(e extensions) (*openapi_v2.PathItem, error) {
	out := &openapi_v2.PathItem{Parameters: protoParams(it.params)}
	for m, op := range it.ops {
		o, err := op.toProto(e)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", m, it.path, err)
		}
		switch m {
		case http.MethodGet:
			out.Get = o
		case http.MethodPut:
			out.Put = o
		case http.MethodPost:
			out.Post = o
		case http.MethodDelete:
			out.Delete = o
		case http.MethodOptions:
			out.Options = o
		case http.MethodHead:
			out.Head = o
		case http.MethodPatch:
			out.Patch = o
		}
	}
	return out, nil
}

// buildV2Proto builds the gnostic form of the v2 document; paths and defNames
// must be sorted as in the JSON document.
func buildV2Proto(inf info, paths []*pathItem, defs map[string]*node, defNames []string) (*openapi_v2.Document, error) {
	e := extensions{}
	doc := &openapi_v2.Document{
		Swagger:     "2.0",
		Info:        &openapi_v2.Info{Title: inf.Title, Version: inf.Version},
		Paths:       &openapi_v2.Paths{Path: make([]*openapi_v2.NamedPathItem, 0, len(paths))},
		Definitions: &openapi_v2.Definitions{AdditionalProperties: make([]*openapi_v2.NamedSchema, 0, len(defNames))},
	}
	for _, it := range paths {
		p, err := it.toProto(e)
		if err != nil {
			return nil, err
		}
		doc.Paths.Path = append(doc.Paths.Path, &openapi_v2.NamedPathItem{Name: it.path, Value: p})
	}
	for _, name := range defNames {
		s, err := defs[name].toProto(e)
		if err != nil {
			return nil, fmt.Errorf("definition %s: %w", name, err)
		}
		doc.Definitions.AdditionalProperties = append(doc.Definitions.AdditionalProperties,
			&openapi_v2.NamedSchema{Name: name, Value: s})
	}
	return doc, nil
}
