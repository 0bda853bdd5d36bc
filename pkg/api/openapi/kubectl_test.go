package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	yaml "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/kube-openapi/pkg/spec3"
	kubeproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/util/proto/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

var (
	buildOnce sync.Once
	built     *Documents
	buildErr  error
)

// testDocs builds the documents for testKinds once for all tests.
func testDocs(t testing.TB) *Documents {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = Build(testKinds(), "v1.33.0-skiff") })
	if buildErr != nil {
		t.Fatalf("Build: %v", buildErr)
	}
	return built
}

// models loads /openapi/v2 the way kubectl does for explain and client-side
// validation: protobuf into a gnostic Document, then kube-openapi's models.
func models(t *testing.T) kubeproto.Models {
	t.Helper()
	var doc openapi_v2.Document
	if err := proto.Unmarshal(testDocs(t).V2Proto(), &doc); err != nil {
		t.Fatalf("unmarshal v2 protobuf: %v", err)
	}
	m, err := kubeproto.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("NewOpenAPIData: %v", err)
	}
	return m
}

// lookupByGVK finds a model by its x-kubernetes-group-version-kind, as kubectl's
// util/openapi does (the extension is YAML-decoded, so maps have interface keys).
func lookupByGVK(t *testing.T, m kubeproto.Models, want schema.GroupVersionKind) kubeproto.Schema {
	t.Helper()
	for _, name := range m.ListModels() {
		model := m.LookupModel(name)
		list, _ := model.GetExtensions()["x-kubernetes-group-version-kind"].([]interface{})
		for _, item := range list {
			g, _ := item.(map[interface{}]interface{})
			if g["group"] == want.Group && g["version"] == want.Version && g["kind"] == want.Kind {
				return model
			}
		}
	}
	t.Fatalf("no model has group-version-kind %v", want)
	return nil
}

// field follows a field of a kind, through references and arrays.
func field(t *testing.T, s kubeproto.Schema, name string) kubeproto.Schema {
	t.Helper()
	k := resolve(s).(*kubeproto.Kind)
	f, ok := k.Fields[name]
	if !ok {
		t.Fatalf("%s has no field %q", s.GetPath(), name)
	}
	return f
}

func resolve(s kubeproto.Schema) kubeproto.Schema {
	for {
		switch v := s.(type) {
		case kubeproto.Reference:
			s = v.SubSchema()
		case *kubeproto.Array:
			s = v.SubType
		default:
			return s
		}
	}
}

func TestV2ProtobufExplainsPodLikeKubectl(t *testing.T) {
	m := models(t)
	pod := lookupByGVK(t, m, corev1.SchemeGroupVersion.WithKind("Pod"))
	if got, want := pod.GetDescription(), (corev1.Pod{}).SwaggerDoc()[""]; got != want {
		t.Errorf("Pod description = %q, want %q", got, want)
	}
	containers := field(t, field(t, pod, "spec"), "containers")
	if got, want := containers.GetDescription(), (corev1.PodSpec{}).SwaggerDoc()["containers"]; got != want {
		t.Errorf("spec.containers description = %q, want %q", got, want)
	}
	if ext := containers.GetExtensions(); ext["x-kubernetes-patch-merge-key"] != "name" || ext["x-kubernetes-patch-strategy"] != "merge" {
		t.Errorf("spec.containers extensions = %v, want merge on name", ext)
	}
	container := resolve(containers).(*kubeproto.Kind)
	if !container.IsRequired("name") {
		t.Errorf("Container.name is not required; required = %v", container.RequiredFields)
	}
	ports := field(t, containers, "ports")
	if got, want := ports.GetDescription(), (corev1.Container{}).SwaggerDoc()["ports"]; got != want || got == "" {
		t.Errorf("containers.ports description = %q, want %q", got, want)
	}
	containerPort := field(t, ports, "containerPort")
	if p, ok := resolve(containerPort).(*kubeproto.Primitive); !ok || p.Type != "integer" || p.Format != "int32" {
		t.Errorf("containers.ports.containerPort = %#v, want integer/int32", containerPort)
	}
	list := lookupByGVK(t, m, corev1.SchemeGroupVersion.WithKind("PodList"))
	if !resolve(list).(*kubeproto.Kind).IsRequired("items") {
		t.Errorf("PodList.items is not required")
	}
	meta := resolve(field(t, pod, "metadata")).(*kubeproto.Kind)
	if len(meta.RequiredFields) != 0 {
		t.Errorf("ObjectMeta requires %v, want nothing", meta.RequiredFields)
	}
}

// TestV2ProtobufValidatesLikeKubectl runs kubectl's client-side validation
// (used when a server does not advertise fieldValidation) against the model.
func TestV2ProtobufValidatesLikeKubectl(t *testing.T) {
	pod := lookupByGVK(t, models(t), corev1.SchemeGroupVersion.WithKind("Pod"))
	valid := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},
		"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],
		"resources":{"limits":{"cpu":"500m","memory":"128Mi"}},
		"livenessProbe":{"httpGet":{"port":"http","path":"/"}}}]}}`
	var obj map[string]interface{}
	if err := json.Unmarshal([]byte(valid), &obj); err != nil {
		t.Fatal(err)
	}
	if errs := validation.ValidateModel(obj, pod, "Pod"); len(errs) != 0 {
		t.Errorf("valid pod rejected: %v", errs)
	}
	obj["spec"].(map[string]interface{})["containers"].([]interface{})[0].(map[string]interface{})["imagee"] = "typo"
	errs := validation.ValidateModel(obj, pod, "Pod")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `unknown field "imagee"`) {
		t.Errorf("pod with a misspelt field: errors %v, want one unknown field \"imagee\"", errs)
	}
}

// TestV2ProtobufEqualsParsedJSON checks the directly built protobuf against
// gnostic's own parse of the JSON document, which is how kube-apiserver makes
// its protobuf: both representations of /openapi/v2 say the same thing.
func TestV2ProtobufEqualsParsedJSON(t *testing.T) {
	d := testDocs(t)
	parsed, err := openapi_v2.ParseDocument(d.V2JSON())
	if err != nil {
		t.Fatalf("ParseDocument(V2JSON): %v", err)
	}
	var direct openapi_v2.Document
	if err := proto.Unmarshal(d.V2Proto(), &direct); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(parsed, &direct) {
		opts := protojson.MarshalOptions{Multiline: true}
		a, _ := opts.Marshal(parsed)
		b, _ := opts.Marshal(&direct)
		t.Fatalf("protobuf differs from the parsed JSON document; first difference:\n%s", firstDiff(string(a), string(b)))
	}
	// Vendor extensions must also read back as data, not only as equal text.
	var n int
	walkAny(direct.ProtoReflect(), func(a *openapi_v2.Any) {
		n++
		var v any
		if err := yaml.Unmarshal([]byte(a.Yaml), &v); err != nil {
			t.Errorf("vendor extension %q is not YAML: %v", a.Yaml, err)
		}
	})
	if n == 0 {
		t.Error("no vendor extensions in the v2 document")
	}
}

func walkAny(m protoreflect.Message, fn func(*openapi_v2.Any)) {
	if a, ok := m.Interface().(*openapi_v2.Any); ok {
		fn(a)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walkAny(v.List().Get(i).Message(), fn)
			}
		case fd.Message() != nil && !fd.IsMap():
			walkAny(v.Message(), fn)
		}
		return true
	})
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			lo := max(0, i-5)
			return "parsed:\n" + strings.Join(al[lo:min(len(al), i+3)], "\n") +
				"\ndirect:\n" + strings.Join(bl[lo:min(len(bl), i+3)], "\n")
		}
	}
	return "lengths differ"
}

// v3Doc fetches and parses one group-version document as kubectl's
// openapi3 root does.
func v3Doc(t *testing.T, gv string) *spec3.OpenAPI {
	t.Helper()
	body, _, ok := testDocs(t).V3(gv)
	if !ok {
		t.Fatalf("no v3 document for %q", gv)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("parse v3 %s: %v", gv, err)
	}
	return &doc
}

// jsonFields lists the JSON field names of a struct type, inline structs
// flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestV3DescribesEveryPodSpecField(t *testing.T) {
	doc := v3Doc(t, "api/v1")
	podSpec := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]
	if podSpec == nil {
		t.Fatal("api/v1 has no io.k8s.api.core.v1.PodSpec")
	}
	fields := jsonFields(reflect.TypeFor[corev1.PodSpec]())
	if len(fields) < 40 {
		t.Fatalf("enumerated only %d PodSpec fields", len(fields))
	}
	doc2 := (corev1.PodSpec{}).SwaggerDoc()
	for _, name := range fields {
		p, ok := podSpec.Properties[name]
		if !ok {
			t.Errorf("PodSpec.%s is missing", name)
			continue
		}
		if p.Description == "" || p.Description != doc2[name] {
			t.Errorf("PodSpec.%s description = %q, want the SwaggerDoc text", name, p.Description)
		}
	}
	if len(podSpec.Properties) != len(fields) {
		t.Errorf("PodSpec has %d properties, the Go type %d fields", len(podSpec.Properties), len(fields))
	}
}

// supportsFieldValidation is cli-runtime's test (queryParamVerifierV3) of
// whether kubectl may send fieldValidation=Strict for gvk: the first PATCH
// operation for the kind, in map order, must list the query parameter.
func supportsFieldValidation(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) (bool, bool) {
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		ext, _ := op.Extensions["x-kubernetes-group-version-kind"].(map[string]interface{})
		if ext["group"] != gvk.Group || ext["version"] != gvk.Version || ext["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.Parameters {
			if p.Name == "fieldValidation" && p.In == "query" {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func TestV3PatchAdvertisesFieldValidation(t *testing.T) {
	for _, k := range testKinds() {
		if len(k.Verbs) > 0 && !slicesContains(k.Verbs, "patch") {
			continue
		}
		doc := v3Doc(t, groupVersionPath(k.GVK.Group, k.GVK.Version))
		// Every PATCH for the kind (status too) must carry it, since kubectl
		// stops at whichever it meets first.
		for path, item := range doc.Paths.Paths {
			op := item.Patch
			if op == nil {
				continue
			}
			ext, _ := op.Extensions["x-kubernetes-group-version-kind"].(map[string]interface{})
			if ext["kind"] != k.GVK.Kind || ext["group"] != k.GVK.Group {
				continue
			}
			var names []string
			for _, p := range op.Parameters {
				names = append(names, p.In+":"+p.Name)
			}
			for _, want := range []string{"query:fieldValidation", "query:dryRun", "query:fieldManager"} {
				if !slicesContains(names, want) {
					t.Errorf("PATCH %s: parameters %v lack %s", path, names, want)
				}
			}
			media := op.RequestBody.Content
			for _, want := range []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"} {
				if media[want] == nil {
					t.Errorf("PATCH %s does not consume %s", path, want)
				}
			}
		}
		if ok, found := supportsFieldValidation(doc, k.GVK); !found || !ok {
			t.Errorf("%v: kubectl would not send fieldValidation (found PATCH=%v)", k.GVK, found)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestEveryKindIsExplainable follows kubectl explain's template: find the GVK
// on an operation of the resource's paths (1.27.0-1.27.3 look only at GET on
// the cluster-wide list path), then a schema carrying that GVK; and the same
// kind in the v2 models.
func TestEveryKindIsExplainable(t *testing.T) {
	m := models(t)
	for _, k := range testKinds() {
		gv := groupVersionPath(k.GVK.Group, k.GVK.Version)
		doc := v3Doc(t, gv)
		list := doc.Paths.Paths["/"+gv+"/"+k.Resource]
		if list == nil || list.Get == nil {
			t.Errorf("%s: no GET /%s/%s", k.GVK.Kind, gv, k.Resource)
			continue
		}
		want := map[string]interface{}{"group": k.GVK.Group, "version": k.GVK.Version, "kind": k.GVK.Kind}
		got := list.Get.Extensions["x-kubernetes-group-version-kind"]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GET /%s/%s group-version-kind = %v, want %v", gv, k.Resource, got, want)
		}
		var found []string
		for name, s := range doc.Components.Schemas {
			list, _ := s.Extensions["x-kubernetes-group-version-kind"].([]interface{})
			for _, g := range list {
				if reflect.DeepEqual(g, want) {
					found = append(found, name)
				}
			}
		}
		if len(found) != 1 || found[0] != definitionName(typeOf(k.Object)) {
			t.Errorf("%v: schemas with the GVK = %v, want [%s]", k.GVK, found, definitionName(typeOf(k.Object)))
		}
		lookupByGVK(t, m, k.GVK)
		for _, sub := range k.Subresources {
			p := "/" + gv + "/" + k.Resource + "/{name}/" + sub
			if k.Namespaced {
				p = "/" + gv + "/namespaces/{namespace}/" + k.Resource + "/{name}/" + sub
			}
			if doc.Paths.Paths[p] == nil {
				t.Errorf("%v: subresource path %s missing", k.GVK, p)
			}
		}
	}
}

// TestV3DrivesStrategicMergePatch computes a client-side apply patch the way
// kubectl 1.27+ does when the v3 document is available: containers merge by
// name instead of being replaced.
func TestV3DrivesStrategicMergePatch(t *testing.T) {
	doc := v3Doc(t, "api/v1")
	pod := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]
	meta := strategicpatch.PatchMetaFromOpenAPIV3{SchemaList: doc.Components.Schemas, Schema: pod}
	original := []byte(`{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}`)
	modified := []byte(`{"spec":{"containers":[{"name":"a","image":"a:2"},{"name":"b","image":"b:1"}]}}`)
	current := []byte(`{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}`)
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, false)
	if err != nil {
		t.Fatalf("CreateThreeWayMergePatch: %v", err)
	}
	want := `{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"image":"a:2","name":"a"}]}}`
	if string(patch) != want {
		t.Errorf("patch = %s, want %s", patch, want)
	}
	var _ *spec.Schema = pod
}
