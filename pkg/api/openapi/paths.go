package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// pathItem is one URL path and its operations.
type pathItem struct {
	path   string
	gvPath string // the group-version document the path belongs to
	params []param
	ops    map[string]*operation // by HTTP method
}

type operation struct {
	id          string
	description string
	action      string // x-kubernetes-action
	gvk         *gvk
	tag         string
	params      []param
	body        *node
	consumes    []string // media types of body
	produces    []string // media types of the responses
	responses   []response
}

type response struct {
	code        string
	description string
	schema      *node // nil for none
}

var (
	jsonOnly     = []string{"application/json"}
	listMedia    = []string{"application/json", "application/json;stream=watch"}
	anyMedia     = []string{"*/*"}
	patchMedia   = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	textResponse = &node{typ: "string"}
)

// The meta types operations refer to; every document carries them.
var (
	statusType          = reflect.TypeFor[metav1.Status]()
	deleteOptionsType   = reflect.TypeFor[metav1.DeleteOptions]()
	watchEventType      = reflect.TypeFor[metav1.WatchEvent]()
	apiResourceListType = reflect.TypeFor[metav1.APIResourceList]()
	patchType           = reflect.TypeFor[metav1.Patch]()
	metaTypes           = []reflect.Type{statusType, deleteOptionsType, watchEventType, apiResourceListType, patchType}
)

// builder turns Kinds into paths and definitions.
type builder struct {
	defs   *definitions
	params commonParams
	paths  map[string]*pathItem
	gvs    map[string]schema.GroupVersion // by gvPath
}

func typeOf(v any) reflect.Type {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// defineKind defines the schema of obj and records gvk on it.
func (b *builder) defineKind(obj any, k schema.GroupVersionKind) (*node, error) {
	t := typeOf(obj)
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v: object %T is not a struct", k, obj)
	}
	ref, err := b.defs.define(t)
	if err != nil {
		return nil, err
	}
	b.addGVK(ref.ref, k)
	return ref, nil
}

func (b *builder) addGVK(name string, k schema.GroupVersionKind) {
	def := b.defs.byName[name]
	if g := toGVK(k); !slices.Contains(def.gvks, *g) {
		def.gvks = append(def.gvks, *g)
	}
}

func toGVK(k schema.GroupVersionKind) *gvk {
	return &gvk{Group: k.Group, Kind: k.Kind, Version: k.Version}
}

func (b *builder) meta(t reflect.Type) *node {
	ref, err := b.defs.define(t)
	if err != nil {
		panic(fmt.Sprintf("meta type %v: %v", t, err)) // a bug in this package, not in the input
	}
	return ref
}

// item returns the path item for path, creating it.
func (b *builder) item(path, gvPath string, params ...param) *pathItem {
	if it, ok := b.paths[path]; ok {
		return it
	}
	it := &pathItem{path: path, gvPath: gvPath, params: mergeParams(params), ops: map[string]*operation{}}
	b.paths[path] = it
	return it
}

func (it *pathItem) add(method string, op *operation) error {
	if _, dup := it.ops[method]; dup {
		return fmt.Errorf("%s %s is described twice", method, it.path)
	}
	it.ops[method] = op
	return nil
}

func objectResponses(s *node, codes ...string) []response {
	var out []response
	for _, c := range codes {
		out = append(out, response{code: c, description: http.StatusText(atoi(c)), schema: s})
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// verbOperation is the operation a verb adds to a path.
type verbOperation struct {
	verb, method string
	on           *pathItem
	op           *operation
}

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// addKind adds the paths, operations and definitions of one served resource.
func (b *builder) addKind(k Kind) error {
	g, v, kind := k.GVK.Group, k.GVK.Version, k.GVK.Kind
	if v == "" || kind == "" || k.Resource == "" {
		return fmt.Errorf("kind %v resource %q: group-version-kind and resource are required", k.GVK, k.Resource)
	}
	verbs := k.Verbs
	if len(verbs) == 0 {
		verbs = allVerbs
	}
	for _, verb := range verbs {
		if !slices.Contains(allVerbs, verb) {
			return fmt.Errorf("resource %q: unknown verb %q", k.Resource, verb)
		}
	}
	has := func(verb string) bool { return slices.Contains(verbs, verb) }

	gvPath := groupVersionPath(g, v)
	b.gvs[gvPath] = schema.GroupVersion{Group: g, Version: v}
	prefix := "/" + gvPath
	b.discovery(prefix, gvPath, g, v)

	obj, err := b.defineKind(k.Object, k.GVK)
	if err != nil {
		return fmt.Errorf("resource %q: %w", k.Resource, err)
	}
	var list *node
	if has("list") || has("deletecollection") {
		if k.List == nil {
			return fmt.Errorf("resource %q: verbs list and deletecollection need a List type", k.Resource)
		}
		if list, err = b.defineKind(k.List, k.GVK.GroupVersion().WithKind(kind+"List")); err != nil {
			return fmt.Errorf("resource %q: %w", k.Resource, err)
		}
	}

	self := toGVK(k.GVK)
	tag := groupIdent(g) + "_" + v
	id := func(verb, rest string) string {
		return verb + upperFirst(groupIdent(g)) + upperFirst(v) + rest
	}
	scope := ""
	collection := prefix + "/" + k.Resource
	var scopeParams []param
	if k.Namespaced {
		scope = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + k.Resource
		scopeParams = []param{pathParam("namespace", "namespace of the objects")}
	}
	namePath := collection + "/{name}"
	nameParams := append([]param{pathParam("name", "name of the "+kind)}, scopeParams...)

	coll := b.item(collection, gvPath, scopeParams...)
	named := b.item(namePath, gvPath, nameParams...)
	listParams := b.params.list
	if !has("watch") {
		listParams = slices.DeleteFunc(slices.Clone(listParams), func(p param) bool {
			return p.name == "watch" || p.name == "allowWatchBookmarks" || p.name == "sendInitialEvents"
		})
	}
	ops := []verbOperation{
		{"list", http.MethodGet, coll, &operation{
			id: id("list", scope+kind), description: "list or watch objects of kind " + kind, action: "list",
			params: listParams, produces: listMedia, responses: objectResponses(list, "200"),
		}},
		{"create", http.MethodPost, coll, &operation{
			id: id("create", scope+kind), description: "create a " + kind, action: "post",
			params: b.params.create, body: obj, consumes: anyMedia, produces: jsonOnly,
			responses: objectResponses(obj, "200", "201", "202"),
		}},
		{"deletecollection", http.MethodDelete, coll, &operation{
			id: id("delete", "Collection"+scope+kind), description: "delete collection of " + kind,
			action: "deletecollection", params: b.params.deleteCollection,
			body: b.meta(deleteOptionsType), consumes: anyMedia, produces: jsonOnly,
			responses: objectResponses(b.meta(statusType), "200"),
		}},
		{"get", http.MethodGet, named, &operation{
			id: id("read", scope+kind), description: "read the specified " + kind, action: "get",
			produces: jsonOnly, responses: objectResponses(obj, "200"),
		}},
		{"update", http.MethodPut, named, &operation{
			id: id("replace", scope+kind), description: "replace the specified " + kind, action: "put",
			params: b.params.update, body: obj, consumes: anyMedia, produces: jsonOnly,
			responses: objectResponses(obj, "200", "201"),
		}},
		{"patch", http.MethodPatch, named, &operation{
			id: id("patch", scope+kind), description: "partially update the specified " + kind, action: "patch",
			params: b.params.patch, body: b.meta(patchType), consumes: patchMedia, produces: jsonOnly,
			responses: objectResponses(obj, "200", "201"),
		}},
		{"delete", http.MethodDelete, named, &operation{
			id: id("delete", scope+kind), description: "delete a " + kind, action: "delete",
			params: b.params.delete, body: b.meta(deleteOptionsType), consumes: anyMedia, produces: jsonOnly,
			responses: objectResponses(obj, "200", "202"),
		}},
	}
	if k.Namespaced {
		all := b.item(prefix+"/"+k.Resource, gvPath)
		ops = append(ops, verbOperation{"list", http.MethodGet, all, &operation{
			id: id("list", kind+"ForAllNamespaces"), description: "list or watch objects of kind " + kind,
			action: "list", params: listParams, produces: listMedia, responses: objectResponses(list, "200"),
		}})
	}
	for _, o := range ops {
		if !has(o.verb) {
			continue
		}
		o.op.gvk, o.op.tag = self, tag
		if err := o.on.add(o.method, o.op); err != nil {
			return err
		}
	}

	for _, sub := range k.Subresources {
		if err := b.addSubresource(k, sub, namePath, nameParams, obj, id, scope, tag); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) addSubresource(k Kind, sub, namePath string, nameParams []param, obj *node,
	id func(verb, rest string) string, scope, tag string) error {
	spec, ok := subresources[sub]
	if !ok {
		return fmt.Errorf("resource %q: unknown subresource %q", k.Resource, sub)
	}
	g, v, kind := k.GVK.Group, k.GVK.Version, k.GVK.Kind
	gvPath := groupVersionPath(g, v)
	path := namePath + "/" + sub
	subName := upperFirst(sub)
	self := toGVK(k.GVK)
	rw := func(it *pathItem, body *node, target *gvk, methods []string, what string) error {
		for _, m := range methods {
			op := &operation{gvk: target, tag: tag, produces: jsonOnly}
			switch m {
			case http.MethodGet:
				op.id, op.action, op.description = id("read", scope+kind+subName), "get", "read "+what+" of the specified "+kind
				op.responses = objectResponses(body, "200")
			case http.MethodPut:
				op.id, op.action, op.description = id("replace", scope+kind+subName), "put", "replace "+what+" of the specified "+kind
				op.params, op.body, op.consumes = b.params.update, body, anyMedia
				op.responses = objectResponses(body, "200", "201")
			case http.MethodPatch:
				op.id, op.action, op.description = id("patch", scope+kind+subName), "patch", "partially update "+what+" of the specified "+kind
				op.params, op.body, op.consumes = b.params.patch, b.meta(patchType), patchMedia
				op.responses = objectResponses(body, "200", "201")
			}
			if err := it.add(m, op); err != nil {
				return err
			}
		}
		return nil
	}

	switch spec.style {
	case styleParent:
		return rw(b.item(path, gvPath, nameParams...), obj, self, spec.methods, sub)
	case styleObject:
		body, err := b.defineKind(spec.object, spec.gvk)
		if err != nil {
			return err
		}
		params := append([]param{pathParam("name", "name of the "+spec.gvk.Kind)}, nameParams[1:]...)
		return rw(b.item(path, gvPath, params...), body, toGVK(spec.gvk), readWrite, sub)
	case styleCreate:
		body, err := b.defineKind(spec.object, spec.gvk)
		if err != nil {
			return err
		}
		params := append([]param{pathParam("name", "name of the "+spec.gvk.Kind)}, nameParams[1:]...)
		return b.item(path, gvPath, params...).add(http.MethodPost, &operation{
			id: id("create", scope+kind+subName), description: "create " + sub + " of a " + kind,
			action: "post", gvk: toGVK(spec.gvk), tag: tag,
			params: b.params.create, body: body, consumes: anyMedia, produces: jsonOnly,
			responses: objectResponses(body, "200", "201", "202"),
		})
	case styleLog:
		opts, _, err := spec.optionsFor(sub, kind)
		if err != nil {
			return err
		}
		return b.item(path, gvPath, nameParams...).add(http.MethodGet, &operation{
			id: id("read", scope+kind+subName), description: "read " + sub + " of the specified " + kind,
			action: "get", gvk: self, tag: tag, params: mergeParams(queryParams(opts)),
			produces: []string{"text/plain"}, responses: []response{{code: "200", description: "OK", schema: textResponse}},
		})
	case styleConnect:
		opts, optsKind, err := spec.optionsFor(sub, kind)
		if err != nil {
			return err
		}
		target := toGVK(optsKind)
		params := append([]param{pathParam("name", "name of the "+optsKind.Kind)}, nameParams[1:]...)
		query := queryParams(opts)
		paths := []struct{ path, suffix string }{{path, ""}}
		if sub == "proxy" {
			// The proxied path travels in the URL, not in a query parameter.
			query = slices.DeleteFunc(query, func(p param) bool { return p.name == "path" })
			paths = append(paths, struct{ path, suffix string }{path + "/{path}", "WithPath"})
		}
		for _, p := range paths {
			ps := params
			if p.suffix != "" {
				ps = append(slices.Clone(params), pathParam("path", "path to the resource"))
			}
			it := b.item(p.path, gvPath, mergeParams(ps, query)...)
			for _, m := range spec.methods {
				method := upperFirst(strings.ToLower(m))
				err := it.add(m, &operation{
					id:          id("connect", method+scope+kind+subName+p.suffix),
					description: "connect " + m + " requests to " + sub + " of " + kind,
					action:      "connect", gvk: target, tag: tag, produces: anyMedia,
					responses: []response{{code: "200", description: "OK", schema: textResponse}},
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("resource %q: subresource %q has no style", k.Resource, sub)
}

// discovery adds the group-version's resource list, GET /api/v1/.
func (b *builder) discovery(prefix, gvPath, g, v string) {
	it := b.item(prefix+"/", gvPath)
	if _, ok := it.ops[http.MethodGet]; ok {
		return
	}
	it.ops[http.MethodGet] = &operation{
		id: "get" + upperFirst(groupIdent(g)) + upperFirst(v) + "APIResources", description: "get available resources",
		tag: groupIdent(g) + "_" + v, produces: jsonOnly,
		responses: objectResponses(b.meta(apiResourceListType), "200"),
	}
}
