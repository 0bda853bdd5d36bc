package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// definitionsOf parses the definitions of the v2 document and the api/v1 v3
// document.
func definitionsOf(t *testing.T) (v2defs, v3defs map[string]json.RawMessage) {
	t.Helper()
	d := testDocs(t)
	var doc2 struct{ Definitions map[string]json.RawMessage }
	if err := json.Unmarshal(d.V2JSON(), &doc2); err != nil {
		t.Fatal(err)
	}
	body, _, _ := d.V3("api/v1")
	var doc3 struct {
		Components struct{ Schemas map[string]json.RawMessage }
	}
	if err := json.Unmarshal(body, &doc3); err != nil {
		t.Fatal(err)
	}
	return doc2.Definitions, doc3.Components.Schemas
}

// pick returns the JSON at a dotted path of object keys inside raw.
func pick(t *testing.T, raw json.RawMessage, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if path == "" {
		return v
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not inside an object", path, k)
		}
		v = m[k]
	}
	return v
}

func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSchemas(t *testing.T) {
	v2defs, v3defs := definitionsOf(t)
	const (
		meta   = "io.k8s.apimachinery.pkg.apis.meta.v1."
		core   = "io.k8s.api.core.v1."
		refV2  = "#/definitions/"
		refV3  = "#/components/schemas/"
		noDesc = "-" // compare without the description
	)
	tests := []struct {
		name, def, path string
		v2, v3          string // expected JSON; v3 "" means same as v2
	}{
		{"IntOrString is a string with a format", "io.k8s.apimachinery.pkg.util.intstr.IntOrString", noDesc,
			`{"format":"int-or-string","type":"string"}`,
			`{"format":"int-or-string","oneOf":[{"type":"integer"},{"type":"string"}]}`},
		{"Quantity is a string", "io.k8s.apimachinery.pkg.api.resource.Quantity", noDesc,
			`{"type":"string"}`, `{"oneOf":[{"type":"string"},{"type":"number"}]}`},
		{"Time is a date-time", meta + "Time", noDesc, `{"format":"date-time","type":"string"}`, ""},
		{"MicroTime is a date-time", meta + "MicroTime", noDesc, `{"format":"date-time","type":"string"}`, ""},
		{"RawExtension is any object", "io.k8s.apimachinery.pkg.runtime.RawExtension", noDesc, `{"type":"object"}`, ""},
		{"FieldsV1 is any object", meta + "FieldsV1", noDesc, `{"type":"object"}`, ""},
		{"Patch is any object", meta + "Patch", noDesc, `{"type":"object"}`, ""},
		{"bytes are base64 strings in a map", core + "Secret", "properties.data.additionalProperties",
			`{"format":"byte","type":"string"}`, ""},
		{"a map of quantities", core + "ResourceRequirements", "properties.limits.additionalProperties",
			`{"$ref":"` + refV2 + `io.k8s.apimachinery.pkg.api.resource.Quantity"}`,
			`{"$ref":"` + refV3 + `io.k8s.apimachinery.pkg.api.resource.Quantity"}`},
		{"a described reference", core + "Pod", "properties.metadata." + noDesc,
			`{"$ref":"` + refV2 + meta + `ObjectMeta"}`,
			`{"allOf":[{"$ref":"` + refV3 + meta + `ObjectMeta"}]}`},
		{"inline TypeMeta", core + "Pod", "properties.apiVersion.type", `"string"`, ""},
		{"integers", core + "ContainerPort", "properties.containerPort." + noDesc, `{"format":"int32","type":"integer"}`, ""},
		{"int64", core + "PodSpec", "properties.activeDeadlineSeconds." + noDesc, `{"format":"int64","type":"integer"}`, ""},
		{"patch strategy on a list", core + "Container", "properties.env." + noDesc,
			`{"items":{"$ref":"` + refV2 + core + `EnvVar"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}`,
			`{"items":{"$ref":"` + refV3 + core + `EnvVar"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}`},
		{"retainKeys", core + "PodSpec", "properties.volumes.x-kubernetes-patch-strategy", `"merge,retainKeys"`, ""},
		{"Container requires name", core + "Container", "required", `["name"]`, ""},
		{"PodSpec requires containers", core + "PodSpec", "required", `["containers"]`, ""},
		{"PodList requires items", core + "PodList", "required", `["items"]`, ""},
		{"ObjectMeta requires nothing", meta + "ObjectMeta", "required", `null`, ""},
		{"inline fields are flattened", core + "ConfigMapKeySelector", "required", `["key"]`, ""},
		{"inline fields keep their description", core + "ConfigMapKeySelector", "properties.name.description",
			canon(t, (corev1.LocalObjectReference{}).SwaggerDoc()["name"]), ""},
		{"kinds carry their GVK", core + "Pod", "x-kubernetes-group-version-kind",
			`[{"group":"","kind":"Pod","version":"v1"}]`, ""},
		{"lists carry their GVK", "io.k8s.api.apps.v1.DeploymentList", "x-kubernetes-group-version-kind",
			`[{"group":"apps","kind":"DeploymentList","version":"v1"}]`, ""},
		{"subresource kinds carry their GVK", "io.k8s.api.autoscaling.v1.Scale", "x-kubernetes-group-version-kind",
			`[{"group":"autoscaling","kind":"Scale","version":"v1"}]`, ""},
		{"Status is v1 Status", meta + "Status", "x-kubernetes-group-version-kind",
			`[{"group":"","kind":"Status","version":"v1"}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct {
				defs map[string]json.RawMessage
				want string
			}{{v2defs, tt.v2}, {v3defs, tt.v3}} {
				want := f.want
				if want == "" {
					want = tt.v2
				}
				raw, ok := f.defs[tt.def]
				if !ok {
					if f.want == "" && strings.HasPrefix(tt.def, "io.k8s.api.apps") {
						continue // not in the api/v1 document
					}
					t.Fatalf("no definition %s", tt.def)
				}
				path, stripDesc := strings.CutSuffix(tt.path, noDesc)
				path = strings.TrimSuffix(path, ".")
				got := pick(t, raw, path)
				if m, ok := got.(map[string]any); ok && stripDesc {
					delete(m, "description")
				}
				if g := canon(t, got); g != want {
					t.Errorf("%s %s = %s, want %s", tt.def, tt.path, g, want)
				}
			}
		})
	}
}

func TestEveryDefinitionIsDescribed(t *testing.T) {
	v2defs, _ := definitionsOf(t)
	for name, raw := range v2defs {
		if d, _ := pick(t, raw, "description").(string); d == "" {
			t.Errorf("%s has no description", name)
		}
	}
}

func TestDefinitionName(t *testing.T) {
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[corev1.Pod]():                  "io.k8s.api.core.v1.Pod",
		reflect.TypeFor[schema.GroupVersionKind]():     "io.k8s.apimachinery.pkg.runtime.schema.GroupVersionKind",
		reflect.TypeFor[corev1.ResourceRequirements](): "io.k8s.api.core.v1.ResourceRequirements",
	} {
		if got := definitionName(typ); got != want {
			t.Errorf("definitionName(%v) = %q, want %q", typ, got, want)
		}
	}
	for group, want := range map[string]string{
		"": "core", "apps": "apps", "coordination.k8s.io": "coordination",
		"rbac.authorization.k8s.io": "rbacAuthorization", "stable.example.com": "stableExampleCom",
	} {
		if got := groupIdent(group); got != want {
			t.Errorf("groupIdent(%q) = %q, want %q", group, got, want)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	pod := func(edit func(*Kind)) []Kind {
		k := Kind{
			GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", Namespaced: true,
			Object: &corev1.Pod{}, List: &corev1.PodList{},
		}
		edit(&k)
		return []Kind{k}
	}
	tests := []struct {
		name  string
		kinds []Kind
		want  string
	}{
		{"unknown subresource", pod(func(k *Kind) { k.Subresources = []string{"stauts"} }), `unknown subresource "stauts"`},
		{"unknown verb", pod(func(k *Kind) { k.Verbs = []string{"get", "destroy"} }), `unknown verb "destroy"`},
		{"list without a List type", pod(func(k *Kind) { k.List = nil }), "need a List type"},
		{"object not a struct", pod(func(k *Kind) { k.Object = "pod" }), "is not a struct"},
		{"no version", pod(func(k *Kind) { k.GVK.Version = "" }), "required"},
		{"proxy of a kind without proxy options", []Kind{{
			GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Resource: "configmaps", Namespaced: true,
			Object: &corev1.ConfigMap{}, List: &corev1.ConfigMapList{}, Subresources: []string{"proxy"},
		}}, `not known for kind "ConfigMap"`},
		{"listed twice", append(pod(func(*Kind) {}), pod(func(*Kind) {})...), "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.kinds, "v0")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestVerbsLimitOperations(t *testing.T) {
	d, err := Build([]Kind{{
		GVK: corev1.SchemeGroupVersion.WithKind("Event"), Resource: "events", Namespaced: true,
		Object: &corev1.Event{}, List: &corev1.EventList{}, Verbs: []string{"get", "list"},
	}}, "v0")
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := d.V3("api/v1")
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for p, item := range doc.Paths {
		for m := range item {
			if m != "parameters" {
				got[p] = append(got[p], m)
			}
		}
	}
	want := map[string][]string{
		"/api/v1/":                                     {"get"},
		"/api/v1/events":                               {"get"},
		"/api/v1/namespaces/{namespace}/events":        {"get"},
		"/api/v1/namespaces/{namespace}/events/{name}": {"get"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("operations = %v, want %v", got, want)
	}
}

// sample has a field of every shape the generator handles.
type sample struct {
	Duration  metav1.Duration  `json:"duration"`
	Bytes     []byte           `json:"bytes,omitempty"`
	Any       interface{}      `json:"any,omitempty"`
	Object    runtime.Object   `json:"object,omitempty"`
	Counts    map[string]int64 `json:"counts,omitempty"`
	Pointer   *int32           `json:"pointer,omitempty"`
	Float     float64          `json:"float,omitempty"`
	Flag      bool             `json:"flag,omitzero"`
	Skipped   string           `json:"-"`
	Untagged  string
	unexposed string
	embedded  `json:",inline"`
}

type embedded struct {
	Inner string `json:"inner"`
}

func TestSchemaShapes(t *testing.T) {
	d := newDefinitions()
	ref, err := d.schemaOf(reflect.TypeFor[*sample]())
	if err != nil {
		t.Fatal(err)
	}
	const name = "com.github.skiffhq.skiff.pkg.api.openapi.sample"
	if ref.ref != name {
		t.Fatalf("reference to %q, want %q", ref.ref, name)
	}
	got := canon(t, d.byName[name].toJSON(v2))
	want := `{"properties":{` +
		`"Untagged":{"type":"string"},` +
		`"any":{"type":"object"},` +
		`"bytes":{"format":"byte","type":"string"},` +
		`"counts":{"additionalProperties":{"format":"int64","type":"integer"},"type":"object"},` +
		`"duration":{"$ref":"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Duration"},` +
		`"flag":{"type":"boolean"},` +
		`"float":{"format":"double","type":"number"},` +
		`"inner":{"type":"string"},` +
		`"object":{"type":"object"},` +
		`"pointer":{"format":"int32","type":"integer"}},` +
		`"required":["duration","Untagged","inner"],"type":"object"}`
	if got != want {
		t.Errorf("sample =\n%s\nwant\n%s", got, want)
	}
	duration := canon(t, d.byName["io.k8s.apimachinery.pkg.apis.meta.v1.Duration"].toJSON(v3))
	if !strings.Contains(duration, `"type":"string"`) || !strings.Contains(duration, `"description":"Duration is`) {
		t.Errorf("Duration = %s, want a described string", duration)
	}
}
