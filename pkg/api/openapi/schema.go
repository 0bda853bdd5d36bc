package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// node is one node of a JSON schema, independent of the OpenAPI version it is
// rendered into. A node with ref set only adds a description and the patch
// extensions to the named definition.
type node struct {
	ref         string // definition name
	description string
	typ         string
	format      string
	oneOf       []string // alternative primitive types, rendered in v3 only
	items       *node
	additional  *node
	properties  []property // sorted by name, as JSON objects are rendered
	required    []string   // in field order

	patchStrategy string
	patchMergeKey string
	gvks          []gvk
}

type property struct {
	name   string
	schema *node
}

// gvk is the value of x-kubernetes-group-version-kind. The field order is the
// order of the JSON keys.
type gvk struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// definitions is the set of named schemas generated from Go types.
type definitions struct {
	byName map[string]*node
	names  map[reflect.Type]string
	types  map[string]reflect.Type
}

func newDefinitions() *definitions {
	return &definitions{
		byName: map[string]*node{},
		names:  map[reflect.Type]string{},
		types:  map[string]reflect.Type{},
	}
}

type swaggerDoccer interface{ SwaggerDoc() map[string]string }

// openAPITyper is implemented by the apimachinery types whose JSON form is not
// their Go structure: Quantity, IntOrString, Time, MicroTime, Duration.
type openAPITyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

type openAPIV3OneOfTyper interface{ OpenAPIV3OneOfTypes() []string }

var (
	swaggerDoccerType = reflect.TypeFor[swaggerDoccer]()
	openAPITyperType  = reflect.TypeFor[openAPITyper]()
	oneOfTyperType    = reflect.TypeFor[openAPIV3OneOfTyper]()
)

// implements reports whether t or *t implements iface, and returns a value
// (always a *t) to call the methods on.
func implements(t, iface reflect.Type) (any, bool) {
	if t.Implements(iface) || reflect.PointerTo(t).Implements(iface) {
		return reflect.New(t).Interface(), true
	}
	return nil, false
}

// define returns a reference to the definition of the named type t, generating
// it (and everything it refers to) on first use.
func (d *definitions) define(t reflect.Type) (*node, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := d.names[t]; ok {
		return &node{ref: name}, nil
	}
	if t.Name() == "" || t.PkgPath() == "" {
		return nil, fmt.Errorf("type %v has no package-qualified name to define", t)
	}
	name := definitionName(t)
	if other, ok := d.types[name]; ok {
		return nil, fmt.Errorf("types %v and %v both map to definition %q", other, t, name)
	}
	s := &node{}
	// Register before filling in, so recursive types refer to themselves.
	d.names[t], d.types[name], d.byName[name] = name, t, s

	doc := swaggerDoc(t, name)
	s.description = doc[""]
	if v, ok := implements(t, openAPITyperType); ok {
		typer := v.(openAPITyper)
		if types := typer.OpenAPISchemaType(); len(types) > 0 {
			s.typ = types[0]
		}
		s.format = typer.OpenAPISchemaFormat()
		if v, ok := implements(t, oneOfTyperType); ok {
			s.oneOf = v.(openAPIV3OneOfTyper).OpenAPIV3OneOfTypes()
		}
		return &node{ref: name}, nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("definition %q: %v is not a struct", name, t)
	}
	s.typ = "object"
	if err := d.fields(t, doc, s); err != nil {
		return nil, fmt.Errorf("definition %q: %w", name, err)
	}
	slices.SortFunc(s.properties, func(a, b property) int { return strings.Compare(a.name, b.name) })
	return &node{ref: name}, nil
}

// fields adds the JSON fields of struct t to s, flattening inline (embedded)
// structs the way encoding/json does.
func (d *definitions) fields(t reflect.Type, doc map[string]string, s *node) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if (f.Anonymous && name == "") || hasOption(opts, "inline") {
			if ft.Kind() == reflect.Struct {
				if err := d.fields(ft, swaggerDoc(ft, ""), s); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if slices.ContainsFunc(s.properties, func(p property) bool { return p.name == name }) {
			continue // shadowed by a shallower field, as in encoding/json
		}
		ps, err := d.schemaOf(f.Type)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		ps.description = doc[name]
		ps.patchStrategy = f.Tag.Get("patchStrategy")
		ps.patchMergeKey = f.Tag.Get("patchMergeKey")
		s.properties = append(s.properties, property{name: name, schema: ps})
		// Upstream marks a field required unless it is +optional; the
		// generated comments are not visible at run time, and omitempty is
		// how the API types spell optional in their tags.
		if !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero") {
			s.required = append(s.required, name)
		}
	}
	return nil
}

// schemaOf returns a fresh schema node for a field or element of type t: named
// structs and the special apimachinery types become references, everything else
// is described inline.
func (d *definitions) schemaOf(t reflect.Type) (*node, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := implements(t, openAPITyperType); ok && t.Name() != "" {
		return d.define(t)
	}
	switch t.Kind() {
	case reflect.Struct:
		return d.define(t)
	case reflect.String:
		return &node{typ: "string"}, nil
	case reflect.Bool:
		return &node{typ: "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Int16, reflect.Int8,
		reflect.Uint, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		return &node{typ: "integer", format: "int32"}, nil
	case reflect.Int64, reflect.Uint64:
		return &node{typ: "integer", format: "int64"}, nil
	case reflect.Float64:
		return &node{typ: "number", format: "double"}, nil
	case reflect.Float32:
		return &node{typ: "number", format: "float"}, nil
	case reflect.Interface:
		return &node{typ: "object"}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &node{typ: "string", format: "byte"}, nil
		}
		items, err := d.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &node{typ: "array", items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key type %v is not a string", t.Key())
		}
		values, err := d.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &node{typ: "object", additional: values}, nil
	}
	return nil, fmt.Errorf("type %v has no JSON schema", t)
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// swaggerDoc returns the type's SwaggerDoc() map, falling back to the
// descriptions below for the apimachinery types that have none.
func swaggerDoc(t reflect.Type, name string) map[string]string {
	if v, ok := implements(t, swaggerDoccerType); ok {
		return v.(swaggerDoccer).SwaggerDoc()
	}
	if name == "" {
		name = definitionName(t)
	}
	return fallbackDocs[name]
}

// fallbackDocs describes the types that carry no SwaggerDoc() because their
// wire form is not their Go structure.
var fallbackDocs = map[string]map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": {
		"": "Quantity is a fixed-point number written as a string with an optional suffix: a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (n, u, m, \"\", k, M, G, T, P, E) or a decimal exponent (e3, E6). Examples: \"100m\" (0.1), \"1.5Gi\", \"2\".",
	},
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
		"": "IntOrString holds either an integer or a string, so a field can take, for example, a port number or a port name, or a count or a percentage.",
	},
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": {
		"": "Time is a timestamp with second precision, written in RFC 3339 format, for example \"2024-01-02T15:04:05Z\".",
	},
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {
		"": "MicroTime is a timestamp with microsecond precision, written in RFC 3339 format with six fractional digits.",
	},
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": {
		"": "Duration is a length of time written as a Go duration string, for example \"1m30s\".",
	},
	"io.k8s.apimachinery.pkg.runtime.RawExtension": {
		"": "RawExtension holds a complete embedded object, including its apiVersion and kind, whose schema depends on that kind.",
	},
	"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent": {
		"":       "WatchEvent is one change to a watched resource, as sent in a watch stream.",
		"type":   "Type of the change: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.",
		"object": "The object after an ADDED or MODIFIED change, the object before a DELETED change, an object carrying only the resourceVersion for a BOOKMARK, and a Status for an ERROR.",
	},
}

// refs calls fn for the name of every definition s refers to directly.
func (s *node) refs(fn func(string)) {
	if s == nil {
		return
	}
	if s.ref != "" {
		fn(s.ref)
	}
	s.items.refs(fn)
	s.additional.refs(fn)
	for _, p := range s.properties {
		p.schema.refs(fn)
	}
}
