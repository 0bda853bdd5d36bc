package integration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestRuntimeClassAPI makes the calls of upstream's conformance test "should
// support RuntimeClasses API operations": discovery of node.k8s.io/v1, then
// create, get, list, watch, patch, update, delete and deletecollection.
func TestRuntimeClassAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()

	groups, err := c.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, g := range groups.Groups {
		if g.Name == "node.k8s.io" {
			for _, v := range g.Versions {
				versions = append(versions, v.GroupVersion)
			}
		}
	}
	if !slices.Equal(versions, []string{"node.k8s.io/v1"}) {
		t.Fatalf("/apis lists node.k8s.io with versions %q, want node.k8s.io/v1", versions)
	}
	group := &metav1.APIGroup{}
	if err := c.Client.Discovery().RESTClient().Get().AbsPath("/apis/node.k8s.io").Do(ctx).Into(group); err != nil {
		t.Fatal(err)
	}
	if group.PreferredVersion.GroupVersion != "node.k8s.io/v1" || len(group.Versions) != 1 {
		t.Fatalf("/apis/node.k8s.io: %+v", group)
	}
	resources, err := c.Client.Discovery().ServerResourcesForGroupVersion("node.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(resources.APIResources) != 1 {
		t.Fatalf("/apis/node.k8s.io/v1 serves %+v, want runtimeclasses alone", resources.APIResources)
	}
	r := resources.APIResources[0]
	verbs := slices.Sorted(slices.Values(r.Verbs))
	if r.Name != "runtimeclasses" || r.Kind != "RuntimeClass" || r.Namespaced || r.SingularName != "runtimeclass" ||
		!slices.Equal(verbs, []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}) {
		t.Fatalf("runtimeclasses in discovery: %+v", r)
	}

	rcs := c.Client.NodeV1().RuntimeClasses()
	labels := map[string]string{"test": "api"}
	rc := func(name string) *nodev1.RuntimeClass {
		return &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Handler: name + "-handler"}
	}
	created, err := rcs.Create(ctx, rc("rc1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcs.Create(ctx, rc("rc1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	if _, err := rcs.Create(ctx, rc("rc2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := rcs.Watch(ctx, metav1.ListOptions{LabelSelector: "test=api"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := rcs.Create(ctx, rc("rc3"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := rcs.Get(ctx, "rc1", metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.ResourceVersion == "" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if list, err := rcs.List(ctx, metav1.ListOptions{LabelSelector: "test=api"}); err != nil || len(list.Items) != 3 {
		t.Fatalf("list: %v, %v; want 3 items", list, err)
	}
	patched, err := rcs.Patch(ctx, "rc1", types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || !revisionAfter(patched.ResourceVersion, got.ResourceVersion) {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	patched.Annotations["updated"] = "true"
	updated, err := rcs.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil || updated.Annotations["updated"] != "true" {
		t.Fatalf("update: %+v, %v", updated, err)
	}

	// A watch from no resourceVersion starts with the objects that exist, as
	// synthetic ADDED events; then it sees rc3 added and rc1 patched and updated.
	want := []string{"ADDED rc1 map[]", "ADDED rc2 map[]",
		"ADDED rc3 map[]", "MODIFIED rc1 map[patched:true]", "MODIFIED rc1 map[patched:true updated:true]"}
	var events []string
	for len(events) < len(want) {
		select {
		case ev := <-w.ResultChan():
			obj, ok := ev.Object.(*nodev1.RuntimeClass)
			if !ok {
				t.Fatalf("watch event %s of %T", ev.Type, ev.Object)
			}
			events = append(events, fmt.Sprintf("%s %s %s", ev.Type, obj.Name, obj.Annotations))
		case <-time.After(10 * time.Second):
			t.Fatalf("watch: only %q after 10s", events)
		}
	}
	if !slices.Equal(events, want) {
		t.Fatalf("watch events %q, want %q", events, want)
	}

	// The handler names what running pods were started with: it cannot change.
	rehandled := updated.DeepCopy()
	rehandled.Handler = "kata"
	if _, err := rcs.Update(ctx, rehandled, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), `handler: Invalid value: "kata": field is immutable`) {
		t.Fatalf("changing the handler: %v, want Invalid", err)
	}

	if err := rcs.Delete(ctx, "rc1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rcs.Get(ctx, "rc1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v, want NotFound", err)
	}
	if list, err := rcs.List(ctx, metav1.ListOptions{LabelSelector: "test=api"}); err != nil || len(list.Items) != 2 {
		t.Fatalf("list after delete: %v, %v; want 2 items", list, err)
	}
	if err := rcs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "test=api"}); err != nil {
		t.Fatal(err)
	}
	if list, err := rcs.List(ctx, metav1.ListOptions{LabelSelector: "test=api"}); err != nil || len(list.Items) != 0 {
		t.Fatalf("list after deletecollection: %v, %v; want none", list, err)
	}
}

func revisionAfter(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	return errA == nil && errB == nil && x > y
}

// TestRuntimeClassAdmission checks what a pod's runtimeClassName does on
// create, as upstream's RuntimeClass admission plugin: a missing class is
// Forbidden (dry-run too, as the conformance test asks it), a class's
// overhead and scheduling are copied into the pod, and a conflict or a
// foreign overhead is Forbidden.
func TestRuntimeClassAdmission(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	pod := func(name, runtimeClass string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				RuntimeClassName: ptr.To(runtimeClass),
				Containers:       []corev1.Container{{Name: "c", Image: "busybox"}},
			},
		}
	}
	refused := func(what string, p *corev1.Pod, opts metav1.CreateOptions, msg string) {
		t.Helper()
		_, err := pods.Create(ctx, p, opts)
		if !apierrors.IsForbidden(err) || err.Error() != msg {
			t.Fatalf("%s: %v, want Forbidden: %s", what, err, msg)
		}
	}

	missing := pod("", "gvisor")
	missing.GenerateName = "test-runtimeclass-gvisor-"
	refused("a missing RuntimeClass, dry-run", missing, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}},
		`pods "test-runtimeclass-gvisor-" is forbidden: pod rejected: RuntimeClass "gvisor" not found`)

	overhead := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}
	sandbox := corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "runsc", Effect: corev1.TaintEffectNoSchedule}
	_, err := c.Client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gvisor"},
		Handler:    "runsc",
		Overhead:   &nodev1.Overhead{PodFixed: overhead},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "runsc"}, Tolerations: []corev1.Toleration{sandbox}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	withSelector := pod("web", "gvisor")
	withSelector.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	created, err := pods.Create(ctx, withSelector, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{created, got} {
		if p.Spec.Overhead.Cpu().String() != "250m" || p.Spec.Overhead.Memory().String() != "120Mi" || len(p.Spec.Overhead) != 2 {
			t.Errorf("overhead %v, want the RuntimeClass's", p.Spec.Overhead)
		}
		if want := map[string]string{"disk": "ssd", "sandbox": "runsc"}; fmt.Sprint(p.Spec.NodeSelector) != fmt.Sprint(want) {
			t.Errorf("nodeSelector %v, want %v", p.Spec.NodeSelector, want)
		}
		// The defaults' not-ready and unreachable tolerations come first.
		if n := len(p.Spec.Tolerations); n == 0 || p.Spec.Tolerations[n-1] != sandbox {
			t.Errorf("tolerations %+v, want the RuntimeClass's last", p.Spec.Tolerations)
		}
	}

	conflict := pod("conflict", "gvisor")
	conflict.Spec.NodeSelector = map[string]string{"sandbox": "kata"}
	refused("a conflicting nodeSelector", conflict, metav1.CreateOptions{},
		`pods "conflict" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = runsc; pod.spec.nodeSelector[sandbox] = kata`)
	greedy := pod("greedy", "gvisor")
	greedy.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	refused("another overhead", greedy, metav1.CreateOptions{},
		`pods "greedy" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`)
	plain := pod("plain", "gvisor")
	plain.Spec.RuntimeClassName = nil
	plain.Spec.Overhead = overhead
	refused("an overhead without a RuntimeClass", plain, metav1.CreateOptions{},
		`pods "plain" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead`)

	if err := c.Client.NodeV1().RuntimeClasses().Delete(ctx, "gvisor", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only creates are admitted: a pod whose class is gone can still change.
	if _, err := pods.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching a pod whose RuntimeClass was deleted: %v", err)
	}
	refused("a deleted RuntimeClass", pod("late", "gvisor"), metav1.CreateOptions{},
		`pods "late" is forbidden: pod rejected: RuntimeClass "gvisor" not found`)
}

// TestRuntimeClassOverheadIsScheduled: the scheduler counts a pod's overhead
// with its requests. On a 4-CPU hollow node, 3700m of containers fits alone
// but not with the RuntimeClass's 500m; 3000m does.
func TestRuntimeClassOverheadIsScheduled(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	_, err := c.Client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "vm"},
		Handler:    "kata",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{corev1.LabelOSStable: "linux"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := c.Client.CoreV1().Pods("default")
	create := func(name, cpu string) {
		t.Helper()
		_, err := pods.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{RuntimeClassName: ptr.To("vm"), Containers: []corev1.Container{{
				Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
			}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	create("too-big", "3700m")
	eventually(t, "too-big found unschedulable", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "too-big", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		state := fmt.Sprintf("node %q, conditions %+v", p.Spec.NodeName, p.Status.Conditions)
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Reason == corev1.PodReasonUnschedulable {
				return p.Spec.NodeName == "" && strings.Contains(cond.Message, "Insufficient cpu"), state
			}
		}
		return false, state
	})
	create("fits", "3000m")
	eventually(t, "fits scheduled", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "fits", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Spec.NodeName != "", fmt.Sprintf("conditions %+v", p.Status.Conditions)
	})
}

const runtimeClassYAML = `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: NAME
handler: runsc
overhead:
  podFixed:
    cpu: 250m
    memory: 120Mi
scheduling:
  nodeSelector:
    sandbox: runsc
`

const runtimeClassPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: NAME
spec:
  runtimeClassName: CLASS
  containers:
  - name: c
    image: busybox
`

// TestRuntimeClassWithKubectl serves node.k8s.io/v1 RuntimeClass to every
// kubectl: api-resources, explain, create, get with upstream's columns, the
// handler that cannot change, a pod refused for a missing class and one
// given its class's overhead and node selector, and delete.
func TestRuntimeClassWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			suffix := strings.ReplaceAll(k.Version, ".", "-")
			name, ns := "gvisor-"+suffix, "rc-"+suffix
			run := func(stdin string, args ...string) string { t.Helper(); return c.MustRun(t, k, stdin, args...) }
			run("", "create", "namespace", ns)

			resources := run("", "api-resources", "--api-group=node.k8s.io")
			if !hasLine(resources, "runtimeclasses", "node.k8s.io/v1", "false", "RuntimeClass") {
				t.Fatalf("api-resources lacks runtimeclasses:\n%s", resources)
			}
			mustContain(t, "explain", run("", "explain", "runtimeclass"), "KIND:", "RuntimeClass", "handler", "overhead", "scheduling")

			mustContain(t, "create", run(strings.Replace(runtimeClassYAML, "NAME", name, 1), "create", "-f", "-"),
				"runtimeclass.node.k8s.io/"+name+" created")
			out := run("", "get", "runtimeclass", name)
			if !hasLine(out, "NAME", "HANDLER", "AGE") || !hasRow(out, name, "runsc", anyField) {
				t.Fatalf("kubectl get runtimeclass:\n%s", out)
			}

			_, errOut, err := c.Run(k, "", "patch", "runtimeclass", name, "-p", `{"handler":"kata"}`)
			if err == nil {
				t.Fatal("the handler changed")
			}
			mustContain(t, "changing the handler", errOut,
				`The RuntimeClass "`+name+`" is invalid: handler: Invalid value: "kata": field is immutable`)

			podYAML := func(pod, class string) string {
				return strings.NewReplacer("NAME", pod, "CLASS", class).Replace(runtimeClassPodYAML)
			}
			_, errOut, err = c.Run(k, podYAML("orphan", "missing"), "create", "-f", "-", "-n", ns)
			if err == nil {
				t.Fatal("a pod naming a missing RuntimeClass was created")
			}
			mustContain(t, "missing RuntimeClass", errOut,
				`Error from server (Forbidden): error when creating "STDIN": pods "orphan" is forbidden: pod rejected: RuntimeClass "missing" not found`)

			run(podYAML("sandboxed", name), "create", "-f", "-", "-n", ns)
			got := run("", "get", "pod", "sandboxed", "-n", ns, "-o", "jsonpath={.spec.overhead} {.spec.nodeSelector}")
			if want := `{"cpu":"250m","memory":"120Mi"} {"sandbox":"runsc"}`; got != want {
				t.Fatalf("pod's overhead and nodeSelector: %s, want %s", got, want)
			}

			mustContain(t, "delete", run("", "delete", "runtimeclass", name), `runtimeclass.node.k8s.io "`+name+`" deleted`)
			_, errOut, _ = c.Run(k, "", "get", "runtimeclass", name)
			mustContain(t, "deleted", errOut, `runtimeclasses.node.k8s.io "`+name+`" not found`)
		})
	}
}
