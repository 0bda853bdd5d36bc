package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestPriorityClassAPI makes the calls of upstream's conformance test "verify
// PriorityClass endpoints can be operated with different HTTP methods": the
// value cannot change by patch or update, the description can, and each
// change moves the resourceVersion. The system's two classes exist from the
// start, and only one class may be the global default.
func TestPriorityClassAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	pcs := c.Client.SchedulingV1().PriorityClasses()

	for name, value := range map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000} {
		pc, err := pcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil || pc.Value != value || pc.GlobalDefault || ptr.Deref(pc.PreemptionPolicy, "") != corev1.PreemptLowerPriority {
			t.Fatalf("system class %s: %+v, %v", name, pc, err)
		}
	}

	var created []*schedulingv1.PriorityClass
	for i, name := range []string{"p1", "p2"} {
		pc, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"e2e": "pc"}}, Value: int32(i + 1)}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pc.Generation != 1 {
			t.Fatalf("%s: generation %d, want 1", name, pc.Generation)
		}
		created = append(created, pc)
	}
	patch := func(old, changed *schedulingv1.PriorityClass) error {
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(changed)
		p, err := strategicpatch.CreateTwoWayMergePatch(a, b, &schedulingv1.PriorityClass{})
		if err != nil {
			return err
		}
		_, err = pcs.Patch(ctx, old.Name, types.StrategicMergePatchType, p, metav1.PatchOptions{})
		return err
	}
	revalued := created[0].DeepCopy()
	revalued.Value *= 10
	if err := patch(created[0], revalued); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "value: Forbidden: may not be changed in an update.") {
		t.Fatalf("patching the value: %v", err)
	}
	revalued = created[1].DeepCopy()
	revalued.Value *= 10
	if _, err := pcs.Update(ctx, revalued, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("updating the value: %v", err)
	}
	described := created[0].DeepCopy()
	described.Description = "updated description"
	if err := patch(created[0], described); err != nil {
		t.Fatal(err)
	}
	described = created[1].DeepCopy()
	described.Description = "updated description"
	if _, err := pcs.Update(ctx, described, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, pc := range created {
		live, err := pcs.Get(ctx, pc.Name, metav1.GetOptions{})
		if err != nil || live.Value != pc.Value || live.Description != "updated description" || !revisionAfter(live.ResourceVersion, pc.ResourceVersion) {
			t.Fatalf("%s after the changes: %+v, %v", pc.Name, live, err)
		}
	}

	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 5}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("a class with the system prefix: %v", err)
	}
	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "normal"}, Value: 10, GlobalDefault: true}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "other-default"}, Value: 20, GlobalDefault: true}, metav1.CreateOptions{})
	if want := `priorityclasses.scheduling.k8s.io "other-default" is forbidden: PriorityClass normal is already marked as default. Only one default can exist`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("a second default: %v\nwant: %s", err, want)
	}

	if err := pcs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "e2e=pc"}); err != nil {
		t.Fatal(err)
	}
	if list, err := pcs.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 3 {
		t.Fatalf("after deletecollection: %v, %v; want the system classes and normal", list, err)
	}
}

// TestPriorityAdmission checks a pod's priority on create, as upstream's
// Priority admission plugin sets it: from its class, from the global default
// class when it names none, refused for a missing class or a priority of its
// own; and kept when an update leaves it out.
func TestPriorityAdmission(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	if _, err := c.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "polite"}, Value: 500, PreemptionPolicy: ptr.To(corev1.PreemptNever)}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name, class string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{PriorityClassName: class,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	expect := func(p *corev1.Pod, class string, priority int32, policy corev1.PreemptionPolicy) {
		t.Helper()
		if p.Spec.PriorityClassName != class || ptr.Deref(p.Spec.Priority, -1) != priority || ptr.Deref(p.Spec.PreemptionPolicy, "") != policy {
			t.Fatalf("pod %s: class %q priority %v policy %v, want %q %d %s", p.Name, p.Spec.PriorityClassName,
				ptr.Deref(p.Spec.Priority, -1), ptr.Deref(p.Spec.PreemptionPolicy, ""), class, priority, policy)
		}
	}

	plain, err := pods.Create(ctx, pod("plain", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(plain, "", 0, corev1.PreemptLowerPriority)
	critical, err := pods.Create(ctx, pod("critical", "system-node-critical"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(critical, "system-node-critical", 2000001000, corev1.PreemptLowerPriority)
	polite, err := pods.Create(ctx, pod("polite", "polite"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(polite, "polite", 500, corev1.PreemptNever)

	_, err = pods.Create(ctx, pod("lost", "urgent"), metav1.CreateOptions{})
	if want := `pods "lost" is forbidden: no PriorityClass with name urgent was found`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("a missing class: %v\nwant: %s", err, want)
	}
	own := pod("own", "polite")
	own.Spec.Priority = ptr.To(int32(7))
	_, err = pods.Create(ctx, own, metav1.CreateOptions{})
	if want := `pods "own" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 500 from the given PriorityClass name`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("a priority of its own: %v\nwant: %s", err, want)
	}

	if _, err := c.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "normal"}, Value: 10, GlobalDefault: true}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defaulted, err := pods.Create(ctx, pod("defaulted", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(defaulted, "normal", 10, corev1.PreemptLowerPriority)

	// An update that leaves out what admission set keeps it.
	polite.Spec.Priority, polite.Spec.PreemptionPolicy = nil, nil
	polite.Labels = map[string]string{"updated": "true"}
	updated, err := pods.Update(ctx, polite, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(updated, "polite", 500, corev1.PreemptNever)
}

// TestPriorityClassWithKubectl: kubectl finds PriorityClasses by their short
// name and prints upstream's columns, the system's classes among them.
func TestPriorityClassWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			name := "high-" + strings.ReplaceAll(k.Version, ".", "-")
			mustContain(t, "create", c.MustRun(t, k, "", "create", "priorityclass", name, "--value=1000", "--description=high"),
				"priorityclass.scheduling.k8s.io/"+name+" created")
			out := c.MustRun(t, k, "", "get", "pc")
			if !hasLine(out, "NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY") ||
				!hasRow(out, "system-node-critical", "2000001000", "false", anyField, "PreemptLowerPriority") ||
				!hasRow(out, "system-cluster-critical", "2000000000", "false", anyField, "PreemptLowerPriority") ||
				!hasRow(out, name, "1000", "false", anyField, "PreemptLowerPriority") {
				t.Fatalf("kubectl get pc:\n%s", out)
			}
		})
	}
}
