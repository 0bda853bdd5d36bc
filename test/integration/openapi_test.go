package integration

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/test/harness"
)

// TestServedOpenAPICoversEveryKind fetches the documents the running server
// serves (v3 per group-version as JSON, v2 as protobuf, as kubectl asks) and
// checks every kind the registry serves is in them, and every PodSpec field has
// a description.
func TestServedOpenAPICoversEveryKind(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	rc := c.Client.CoreV1().RESTClient()

	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	raw, err := rc.Get().AbsPath("/openapi/v3").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Description string                     `json:"description"`
		Properties  map[string]json.RawMessage `json:"properties"`
		GVK         []map[string]string        `json:"x-kubernetes-group-version-kind"`
	}
	docs := map[string]map[string]schema{}
	for gv, p := range index.Paths {
		raw, err := rc.Get().AbsPath(strings.SplitN(p.ServerRelativeURL, "?", 2)[0]).DoRaw(ctx)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]schema `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		docs[gv] = doc.Components.Schemas
	}
	for _, res := range registry.New(registry.Options{}).Resources() {
		path := "api/" + res.GVK.Version
		if res.GVK.Group != "" {
			path = "apis/" + res.GVK.Group + "/" + res.GVK.Version
		}
		found := false
		for _, s := range docs[path] {
			for _, g := range s.GVK {
				if g["kind"] == res.GVK.Kind && g["group"] == res.GVK.Group && g["version"] == res.GVK.Version {
					found = len(s.Properties) > 0
				}
			}
		}
		if !found {
			t.Errorf("served kind %s is missing from /openapi/v3/%s", res.GVK, path)
		}
	}
	podSpec := docs["api/v1"]["io.k8s.api.core.v1.PodSpec"]
	st := reflect.TypeOf(corev1.PodSpec{})
	for i := 0; i < st.NumField(); i++ {
		name := strings.Split(st.Field(i).Tag.Get("json"), ",")[0]
		prop, ok := podSpec.Properties[name]
		if !ok {
			t.Errorf("PodSpec.%s missing from the served v3 document", name)
			continue
		}
		var p struct {
			Description string `json:"description"`
		}
		_ = json.Unmarshal(prop, &p)
		if p.Description == "" {
			t.Errorf("PodSpec.%s has no description", name)
		}
	}

	// v2, the way kubectl 1.27-1.28 fetch it: protobuf.
	v2, err := rc.Get().AbsPath("/openapi/v2").SetHeader("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc openapiv2.Document
	if err := proto.Unmarshal(v2, &doc); err != nil {
		t.Fatalf("v2 is not protobuf: %v", err)
	}
	defs := map[string]bool{}
	for _, d := range doc.GetDefinitions().GetAdditionalProperties() {
		defs[d.GetName()] = true
	}
	for _, want := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.ReplicationController", "io.k8s.api.core.v1.Service", "io.k8s.api.coordination.v1.Lease", "io.k8s.api.discovery.v1.EndpointSlice"} {
		if !defs[want] {
			t.Errorf("v2 definitions lack %s", want)
		}
	}
}
