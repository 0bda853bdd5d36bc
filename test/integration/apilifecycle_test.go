package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/skiffhq/skiff/test/harness"
)

// lifecycle is one kind's run through the operations of upstream's generic
// conformance test (test/e2e/framework/conformance.TestResource), made with
// the dynamic client as it makes them: create, get, update, update and get
// status, each patch type on a fresh object, list (and list in all
// namespaces), deletecollection, with a watch that must see it all.
type lifecycle struct {
	gvr        schema.GroupVersionResource
	namespaced bool
	// initial is a valid object without name, namespace or status.
	initial runtime.Object
	// updateSpec changes what patchSpec patches change; check reports
	// whether an object shows that change.
	updateSpec func(*unstructured.Unstructured)
	patchSpec  map[types.PatchType]string
	check      func(*unstructured.Unstructured) bool
	// updateStatus, patchStatus and checkStatus are the same for the
	// status; nil when the kind has none.
	updateStatus func(*unstructured.Unstructured)
	patchStatus  map[types.PatchType]string
	checkStatus  func(*unstructured.Unstructured) bool
}

func (tc lifecycle) run(t *testing.T, c *harness.Cluster) {
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	name, ns := "test-"+tc.gvr.Resource, ""
	client := dynamic.ResourceInterface(dyn.Resource(tc.gvr))
	if tc.namespaced {
		ns = "lifecycle-" + tc.gvr.Resource
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		client = dyn.Resource(tc.gvr).Namespace(ns)
	}
	label := "e2e-test.kubernetes.io=" + tc.gvr.Resource
	listOpts := metav1.ListOptions{LabelSelector: label}

	// Discovery lists the resource in its group-version.
	var api metav1.APIResourceList
	if err := c.Client.Discovery().RESTClient().Get().AbsPath("/apis/" + tc.gvr.GroupVersion().String()).Do(ctx).Into(&api); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(api.APIResources, func(r metav1.APIResource) bool { return r.Name == tc.gvr.Resource }) {
		t.Fatalf("/apis/%s lacks %s: %+v", tc.gvr.GroupVersion(), tc.gvr.Resource, api.APIResources)
	}

	w, err := client.Watch(ctx, listOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var events []string
	expectEvents := func(step string, pattern ...watch.EventType) {
		t.Helper()
		for len(events) < len(pattern) {
			select {
			case ev := <-w.ResultChan():
				events = append(events, string(ev.Type))
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: watch saw %q, want %q", step, events, pattern)
			}
		}
		for i, want := range pattern {
			if events[i] != string(want) {
				t.Fatalf("%s: watch saw %q, want %q", step, events, pattern)
			}
		}
		events = events[len(pattern):]
	}

	initial := toUnstructured(t, tc.initial)
	initial.SetName(name)
	initial.SetNamespace(ns)
	initial.SetLabels(map[string]string{"e2e-test.kubernetes.io": tc.gvr.Resource})
	create := func() *unstructured.Unstructured {
		t.Helper()
		obj, err := client.Create(ctx, initial, metav1.CreateOptions{FieldValidation: "Strict"})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if obj.GetName() != name || obj.GetNamespace() != ns || obj.GetResourceVersion() == "" {
			t.Fatalf("created %s/%s at resourceVersion %q", obj.GetNamespace(), obj.GetName(), obj.GetResourceVersion())
		}
		expectEvents("create", watch.Added)
		return obj
	}
	update := func(obj *unstructured.Unstructured, change func(*unstructured.Unstructured), sub ...string) *unstructured.Unstructured {
		t.Helper()
		change(obj)
		updated, err := client.Update(ctx, obj, metav1.UpdateOptions{}, sub...)
		if err != nil {
			t.Fatalf("update %v: %v", sub, err)
		}
		if !revisionAfter(updated.GetResourceVersion(), obj.GetResourceVersion()) {
			t.Fatalf("update %v: resourceVersion %s after %s", sub, updated.GetResourceVersion(), obj.GetResourceVersion())
		}
		expectEvents("update", watch.Modified)
		return updated
	}
	recreate := func() *unstructured.Unstructured {
		t.Helper()
		if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("get after delete: %v, want NotFound", err)
		}
		expectEvents("delete", watch.Deleted)
		return create()
	}
	patch := func(obj *unstructured.Unstructured, pt types.PatchType, body string, check func(*unstructured.Unstructured) bool, sub ...string) {
		t.Helper()
		patched, err := client.Patch(ctx, name, pt, []byte(body), metav1.PatchOptions{FieldValidation: "Strict"}, sub...)
		if err != nil {
			t.Fatalf("%s patch %v: %v", pt, sub, err)
		}
		if !check(patched) {
			t.Fatalf("%s patch %v did not apply: %v", pt, sub, patched.Object)
		}
		expectEvents("patch", watch.Modified)
	}

	obj := create()
	got, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil || got.GetUID() != obj.GetUID() {
		t.Fatalf("get: %v, %v", got, err)
	}
	obj = update(got, tc.updateSpec)
	if !tc.check(obj) {
		t.Fatalf("update did not apply: %v", obj.Object)
	}
	if tc.updateStatus != nil {
		obj = update(obj, tc.updateStatus, "status")
		status, err := client.Get(ctx, name, metav1.GetOptions{}, "status")
		if err != nil || !tc.checkStatus(status) || !tc.check(status) {
			t.Fatalf("get status: %v, %v", status, err)
		}
	}
	for _, pt := range patchOrder(tc.patchSpec) {
		patch(recreate(), pt, tc.patchSpec[pt], tc.check)
	}
	for _, pt := range patchOrder(tc.patchStatus) {
		obj = update(recreate(), tc.updateSpec)
		patch(obj, pt, tc.patchStatus[pt], func(u *unstructured.Unstructured) bool { return tc.check(u) && tc.checkStatus(u) }, "status")
	}

	list, err := client.List(ctx, listOpts)
	if err != nil || len(list.Items) != 1 || list.Items[0].GetName() != name {
		t.Fatalf("list: %v, %v; want %s alone", list, err, name)
	}
	if tc.namespaced {
		all, err := dyn.Resource(tc.gvr).List(ctx, listOpts)
		if err != nil || len(all.Items) != 1 {
			t.Fatalf("list in all namespaces: %v, %v", all, err)
		}
	}
	if err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, listOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after deletecollection: %v, want NotFound", err)
	}
	expectEvents("deletecollection", watch.Deleted)
}

// patchOrder is the order upstream tries the patch types in.
func patchOrder(patches map[types.PatchType]string) []types.PatchType {
	var out []types.PatchType
	for _, pt := range []types.PatchType{types.StrategicMergePatchType, types.MergePatchType, types.JSONPatchType} {
		if _, ok := patches[pt]; ok {
			out = append(out, pt)
		}
	}
	return out
}

func toUnstructured(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// labelPatches are the patches that add label k=v, of each type.
func labelPatches(k, v string) map[types.PatchType]string {
	merge := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, k, v)
	return map[types.PatchType]string{
		types.StrategicMergePatchType: merge,
		types.MergePatchType:          merge,
		types.JSONPatchType:           fmt.Sprintf(`[{"op":"add","path":"/metadata/labels/%s","value":%q}]`, strings.ReplaceAll(k, "/", "~1"), v),
	}
}

func setLabel(k, v string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		l := u.GetLabels()
		l[k] = v
		u.SetLabels(l)
	}
}

func hasLabel(k, v string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool { return u.GetLabels()[k] == v }
}

// field reads a nested field of an object as JSON, for checks.
func fieldJSON(u *unstructured.Unstructured, path ...string) string {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	b, _ := json.Marshal(v)
	return string(b)
}
