package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	resourcev1 "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

const draLabel = "test.dra.example.com"

// TestDRAAPI runs the kinds of resource.k8s.io/v1 through the operations of
// upstream's "CRUD Tests" conformance tests (test/e2e/dra), with their
// objects, updates and patches. Server-side apply patches are left out:
// Skiff does not serve them yet.
func TestDRAAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	gvr := resourcev1.SchemeGroupVersion.WithResource
	claimSpec := resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{
		Name: "req-0", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "dra.example.com"}}}}}
	allocated := func(u *unstructured.Unstructured) bool { return fieldJSON(u, "status", "allocation") != "null" }
	allocate := func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedMap(u.Object, map[string]any{}, "status", "allocation"); err != nil {
			t.Fatal(err)
		}
	}
	allocation := `{"status":{"allocation":{}}}`
	for _, tc := range []lifecycle{{
		gvr: gvr("deviceclasses"),
		initial: &resourcev1.DeviceClass{Spec: resourcev1.DeviceClassSpec{
			Selectors: []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{Expression: "false"}}}}},
		updateSpec: func(u *unstructured.Unstructured) {
			sel, _, _ := unstructured.NestedSlice(u.Object, "spec", "selectors")
			sel[0].(map[string]any)["cel"].(map[string]any)["expression"] = "1 == 0"
			_ = unstructured.SetNestedSlice(u.Object, sel, "spec", "selectors")
		},
		patchSpec: map[types.PatchType]string{types.StrategicMergePatchType: `{"spec": {"selectors": [{"cel": {"expression": "1 == 0"}}]}}`},
		check: func(u *unstructured.Unstructured) bool {
			return fieldJSON(u, "spec", "selectors") == `[{"cel":{"expression":"1 == 0"}}]`
		},
	}, {
		gvr:     gvr("devicetaintrules"),
		initial: &resourcev1.DeviceTaintRule{Spec: resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{Key: "testing", Effect: resourcev1.DeviceTaintEffectNone}}},
		updateSpec: func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, string(resourcev1.DeviceTaintEffectNoExecute), "spec", "taint", "effect")
		},
		patchSpec: map[types.PatchType]string{types.StrategicMergePatchType: `{"spec": {"taint": {"effect": "NoExecute"}}}`},
		check: func(u *unstructured.Unstructured) bool {
			return fieldJSON(u, "spec", "taint", "effect") == `"NoExecute"`
		},
		updateStatus: func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Testing", "status": "True",
				"lastTransitionTime": "2025-01-02T03:04:05Z", "reason": "E2E_test_running", "message": "This condition can be ignored."}}, "status", "conditions")
		},
		patchStatus: map[types.PatchType]string{types.StrategicMergePatchType: `{"status": {"conditions": [{"type": "Testing", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z", "reason": "E2E_test_running", "message": "This condition can be ignored."}]}}`},
		checkStatus: func(u *unstructured.Unstructured) bool {
			return fieldJSON(u, "status", "conditions", "0", "type") != ""
		},
	}, {
		gvr: gvr("resourceclaims"), namespaced: true,
		initial:      &resourcev1.ResourceClaim{Spec: claimSpec},
		updateSpec:   setLabel(draLabel, "test"),
		patchSpec:    labelPatches(draLabel, "test"),
		check:        hasLabel(draLabel, "test"),
		updateStatus: allocate,
		patchStatus: map[types.PatchType]string{types.StrategicMergePatchType: allocation, types.MergePatchType: allocation,
			types.JSONPatchType: `[{"op": "add", "path": "/status/allocation", "value": {}}]`},
		checkStatus: allocated,
	}, {
		gvr: gvr("resourceclaimtemplates"), namespaced: true,
		initial:    &resourcev1.ResourceClaimTemplate{Spec: resourcev1.ResourceClaimTemplateSpec{Spec: claimSpec}},
		updateSpec: setLabel(draLabel, "test"),
		patchSpec:  map[types.PatchType]string{types.StrategicMergePatchType: labelPatches(draLabel, "test")[types.StrategicMergePatchType]},
		check:      hasLabel(draLabel, "test"),
	}, {
		gvr: gvr("resourceslices"),
		initial: &resourcev1.ResourceSlice{Spec: resourcev1.ResourceSliceSpec{Driver: "dra.example.com", NodeName: ptr.To("no-such-node"),
			Pool: resourcev1.ResourcePool{Name: "cluster", Generation: 1, ResourceSliceCount: 1}}},
		updateSpec: func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "device-0"}}, "spec", "devices")
		},
		patchSpec: map[types.PatchType]string{types.StrategicMergePatchType: `{"spec": {"devices": [{"name": "device-0"}]}}`},
		check: func(u *unstructured.Unstructured) bool {
			return fieldJSON(u, "spec", "devices") == `[{"name":"device-0"}]`
		},
	}} {
		t.Run(tc.gvr.Resource, func(t *testing.T) { tc.run(t, c) })
	}
}

// TestDRAServerRules checks what the API server adds to and refuses of DRA
// objects: request defaults, generation, a claim's fixed spec and status
// kept from a create, taints stamped, ResourceSlice field selectors.
func TestDRAServerRules(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	api := c.Client.ResourceV1()

	claim := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "gpu"},
		Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{
			Name: "req-0", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gpu.example.com"}}}}},
		Status: resourcev1.ResourceClaimStatus{Allocation: &resourcev1.AllocationResult{}}}
	created, err := api.ResourceClaims("default").Create(ctx, claim, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := created.Spec.Devices.Requests[0].Exactly; r.AllocationMode != resourcev1.DeviceAllocationModeExactCount || r.Count != 1 || created.Status.Allocation != nil {
		t.Fatalf("created claim: request %+v, status %+v; want ExactCount 1 and no status", r, created.Status)
	}
	created.Spec.Devices.Requests[0].Exactly.Count = 2
	if _, err := api.ResourceClaims("default").Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!containsAll(err.Error(), "spec: Invalid value", "field is immutable") {
		t.Fatalf("changing a claim's spec: %v, want Invalid", err)
	}
	_, err = api.ResourceClaims("default").Create(ctx, &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "req-0"}}}}}, metav1.CreateOptions{})
	if want := `ResourceClaim.resource.k8s.io "bad" is invalid: spec.devices.requests[0]: Required value: exactly one of ` + "`exactly` or `firstAvailable`" + ` is required`; err == nil || err.Error() != want {
		t.Fatalf("a request of no kind: %v\nwant: %s", err, want)
	}

	class, err := api.DeviceClasses().Create(ctx, &resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "gpu.example.com"}}, metav1.CreateOptions{})
	if err != nil || class.Generation != 1 {
		t.Fatalf("device class: %+v, %v; want generation 1", class, err)
	}
	class.Spec.Selectors = []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{Expression: "true"}}}
	if class, err = api.DeviceClasses().Update(ctx, class, metav1.UpdateOptions{}); err != nil || class.Generation != 2 {
		t.Fatalf("device class after a spec change: generation %d, %v; want 2", class.Generation, err)
	}

	rule, err := api.DeviceTaintRules().Create(ctx, &resourcev1.DeviceTaintRule{ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{Key: "example.com/broken", Effect: resourcev1.DeviceTaintEffectNoSchedule}}}, metav1.CreateOptions{})
	if err != nil || rule.Spec.Taint.TimeAdded == nil {
		t.Fatalf("taint rule: %+v, %v; want timeAdded set", rule, err)
	}
	rule.ResourceVersion = ""
	if _, err := api.DeviceTaintRules().Update(ctx, rule, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("an update without resourceVersion: %v, want Invalid", err)
	}

	for i, node := range []string{"node-a", "node-a", "node-b"} {
		_, err := api.ResourceSlices().Create(ctx, &resourcev1.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("slice-%d", i)},
			Spec: resourcev1.ResourceSliceSpec{Driver: fmt.Sprintf("driver-%d.example.com", i%2), NodeName: ptr.To(node),
				Pool: resourcev1.ResourcePool{Name: node, ResourceSliceCount: 1}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	for selector, want := range map[string][]string{
		"spec.nodeName=node-a":                                  {"slice-0", "slice-1"},
		"spec.driver=driver-0.example.com":                      {"slice-0", "slice-2"},
		"spec.nodeName=node-a,spec.driver=driver-1.example.com": {"slice-1"},
		"spec.pool.name=node-b":                                 {"slice-2"},
	} {
		list, err := api.ResourceSlices().List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("%s: %v", selector, err)
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("slices with %s: %q, want %q", selector, names, want)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

const resourceSliceYAML = `apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: NAME
spec:
  driver: gpu.example.com
  nodeName: node-1
  pool:
    name: node-1
    resourceSliceCount: 1
  devices:
  - name: gpu-0
`

// TestDRAWithKubectl serves resource.k8s.io/v1 to every kubectl:
// api-resources, explain (through the OpenAPI documents), create and get of
// a ResourceSlice with upstream's columns.
func TestDRAWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			name := "gpus-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(stdin string, args ...string) string { t.Helper(); return c.MustRun(t, k, stdin, args...) }

			resources := run("", "api-resources", "--api-group=resource.k8s.io")
			for _, line := range [][]string{
				{"deviceclasses", "resource.k8s.io/v1", "false", "DeviceClass"},
				{"devicetaintrules", "resource.k8s.io/v1", "false", "DeviceTaintRule"},
				{"resourceclaims", "resource.k8s.io/v1", "true", "ResourceClaim"},
				{"resourceclaimtemplates", "resource.k8s.io/v1", "true", "ResourceClaimTemplate"},
				{"resourceslices", "resource.k8s.io/v1", "false", "ResourceSlice"},
			} {
				if !hasLine(resources, line...) {
					t.Fatalf("api-resources lacks %q:\n%s", line, resources)
				}
			}
			mustContain(t, "explain", run("", "explain", "resourceclaim.spec.devices.requests"), "ResourceClaim", "exactly", "firstAvailable")

			mustContain(t, "create", run(strings.Replace(resourceSliceYAML, "NAME", name, 1), "create", "-f", "-"),
				"resourceslice.resource.k8s.io/"+name+" created")
			out := run("", "get", "resourceslices", "--field-selector=spec.driver=gpu.example.com")
			if !hasLine(out, "NAME", "NODE", "DRIVER", "POOL", "AGE") || !hasRow(out, name, "node-1", "gpu.example.com", "node-1", anyField) {
				t.Fatalf("kubectl get resourceslices:\n%s", out)
			}
		})
	}
}
