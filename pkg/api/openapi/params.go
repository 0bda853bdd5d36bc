package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// param is a path or query parameter of an operation.
type param struct {
	name        string
	in          string // "path" or "query"
	description string
	typ         string // string, integer or boolean
	required    bool
}

// queryParams derives the query parameters of an operation from the options
// struct the server decodes them into (metav1.ListOptions, corev1.PodLogOptions,
// ...): one parameter per scalar JSON field, described by the struct's
// SwaggerDoc. Lists are repeated parameters of their element type.
func queryParams(options any, skip ...string) []param {
	t := reflect.TypeOf(options)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	doc := swaggerDoc(t, "")
	var out []param
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() || slices.Contains(skip, name) {
			continue // inline TypeMeta, unexported and unwanted fields
		}
		typ := paramType(f.Type)
		if typ == "" {
			continue // a struct such as Preconditions travels only in the body
		}
		out = append(out, param{name: name, in: "query", description: doc[name], typ: typ})
	}
	return out
}

var timeType = reflect.TypeFor[metav1.Time]()

func paramType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t == timeType {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return ""
}

// mergeParams concatenates parameter lists, keeping the first of each name, and
// sorts them by name as upstream does.
func mergeParams(lists ...[]param) []param {
	var out []param
	for _, l := range lists {
		for _, p := range l {
			if !slices.ContainsFunc(out, func(q param) bool { return q.name == p.name && q.in == p.in }) {
				out = append(out, p)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b param) int { return strings.Compare(a.name, b.name) })
	return out
}

// commonParams holds the parameter lists shared by every kind, derived once per
// Build.
type commonParams struct {
	list, create, update, patch, delete, deleteCollection []param
}

func newCommonParams() commonParams {
	// shardSelector is alpha and feature-gated upstream; no client sends it.
	list := queryParams(&metav1.ListOptions{}, "shardSelector")
	deleteOpts := queryParams(&metav1.DeleteOptions{})
	withoutWatch := slices.DeleteFunc(slices.Clone(list), func(p param) bool {
		return p.name == "watch" || p.name == "allowWatchBookmarks"
	})
	return commonParams{
		list:             mergeParams(list),
		create:           mergeParams(queryParams(&metav1.CreateOptions{})),
		update:           mergeParams(queryParams(&metav1.UpdateOptions{})),
		patch:            mergeParams(queryParams(&metav1.PatchOptions{})),
		delete:           mergeParams(deleteOpts),
		deleteCollection: mergeParams(deleteOpts, withoutWatch),
	}
}

func pathParam(name, description string) param {
	return param{name: name, in: "path", description: description, typ: "string", required: true}
}
