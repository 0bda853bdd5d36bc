package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/test/harness"
)

func cpuMemDisk(cpu, memory, disk string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{"cpu": cpu, "memory": memory, "ephemeral-storage": disk} {
		if v != "" {
			l[name] = resource.MustParse(v)
		}
	}
	return l
}

// TestLimitRangeDefaultsAndBounds makes the calls of upstream's conformance
// test "should create a LimitRange with defaults and ensure pod has those
// defaults applied": a watched LimitRange, a pod given its defaults, one whose
// own resources merge with them, pods refused below min and above max, an
// update of min that takes effect at once, and a delete after which the pod
// refused before is created.
func TestLimitRangeDefaultsAndBounds(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	ranges := c.Client.CoreV1().LimitRanges("default")
	pods := c.Client.CoreV1().Pods("default")

	w, err := ranges.Watch(ctx, metav1.ListOptions{LabelSelector: "test=limits"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	lr, err := ranges.Create(ctx, &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limit-range", Labels: map[string]string{"test": "limits"}},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Min:            cpuMemDisk("50m", "100Mi", "100Gi"),
			Max:            cpuMemDisk("500m", "500Mi", "500Gi"),
			Default:        cpuMemDisk("500m", "500Mi", "500Gi"),
			DefaultRequest: cpuMemDisk("100m", "200Mi", "200Gi"),
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("first watch event %s, want ADDED", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for the LimitRange")
	}

	pod := func(name string, requests, limits corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: "pause",
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}},
		}
	}
	expectResources := func(p *corev1.Pod, requests, limits corev1.ResourceList) {
		t.Helper()
		got, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := corev1.ResourceRequirements{Requests: requests, Limits: limits}
		if r := got.Spec.Containers[0].Resources; !equality.Semantic.DeepEqual(r, want) {
			t.Fatalf("pod %s has resources %v, want %v", p.Name, r, want)
		}
	}

	created, err := pods.Create(ctx, pod("pod-no-resources", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expectResources(created, cpuMemDisk("100m", "200Mi", "200Gi"), cpuMemDisk("500m", "500Mi", "500Gi"))
	if got, want := created.Annotations["kubernetes.io/limit-ranger"],
		"LimitRanger plugin set: cpu, ephemeral-storage, memory request for container pause; cpu, ephemeral-storage, memory limit for container pause"; got != want {
		t.Fatalf("limit-ranger annotation %q, want %q", got, want)
	}
	if created.Status.QOSClass != corev1.PodQOSBurstable {
		t.Fatalf("QoS class %s, want Burstable", created.Status.QOSClass)
	}

	created, err = pods.Create(ctx, pod("pod-partial-resources", cpuMemDisk("", "150Mi", "150Gi"), cpuMemDisk("300m", "", "")), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expectResources(created, cpuMemDisk("300m", "150Mi", "150Gi"), cpuMemDisk("300m", "500Mi", "500Gi"))

	_, err = pods.Create(ctx, pod("too-small", cpuMemDisk("10m", "50Mi", "50Gi"), nil), metav1.CreateOptions{})
	if want := `pods "too-small" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, ` +
		`minimum ephemeral-storage usage per Container is 100Gi, but request is 50Gi, minimum memory usage per Container is 100Mi, but request is 50Mi]`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("below min: %v\nwant: %s", err, want)
	}
	big := pod("too-big", cpuMemDisk("600m", "600Mi", "600Gi"), nil)
	if _, err := pods.Create(ctx, big, metav1.CreateOptions{}); err == nil {
		t.Fatal("a pod above max was created")
	}
	big.Spec.Containers[0].Resources.Limits = cpuMemDisk("600m", "600Mi", "600Gi")
	if _, err := pods.Create(ctx, big, metav1.CreateOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), "maximum cpu usage per Container is 500m, but limit is 600m") {
		t.Fatalf("above max: %v", err)
	}

	lr.Spec.Limits[0].Min = cpuMemDisk("9m", "49Mi", "49Gi")
	if _, err := ranges.Update(ctx, lr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, pod("former-min", cpuMemDisk("10m", "50Mi", "50Gi"), nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a pod within the new min: %v", err)
	}
	if err := ranges.Delete(ctx, lr.Name, *metav1.NewDeleteOptions(30)); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, big, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the pod above the former max, once the range is gone: %v", err)
	}
}

// TestLimitRangeCollection makes the calls of upstream's conformance test
// "should list, patch and delete a LimitRange by collection".
func TestLimitRangeCollection(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-limitrange", Labels: map[string]string{"e2e-test": "e2e-limitrange", "e2e-limitrange": "created"}},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Min: cpuMemDisk("50m", "100Mi", "100Gi"), Max: cpuMemDisk("500m", "500Mi", "500Gi"),
		}}},
	}
	first, err := c.Client.CoreV1().LimitRanges("default").Create(ctx, lr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().LimitRanges("other").Create(ctx, lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	all, err := c.Client.CoreV1().LimitRanges("").List(ctx, metav1.ListOptions{LabelSelector: "e2e-test=e2e-limitrange"})
	if err != nil || len(all.Items) != 2 {
		t.Fatalf("list in all namespaces: %v, %v; want 2", all, err)
	}

	newMin := cpuMemDisk("9m", "49Mi", "49Gi")
	first.Spec.Limits[0].Min = newMin
	patch, _ := json.Marshal(corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: first.CreationTimestamp, Labels: map[string]string{"e2e-limitrange": "patched"}},
		Spec:       corev1.LimitRangeSpec{Limits: first.Spec.Limits},
	})
	patched, err := c.Client.CoreV1().LimitRanges("default").Patch(ctx, lr.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if patched.Labels["e2e-limitrange"] != "patched" || !equality.Semantic.DeepEqual(patched.Spec.Limits[0].Min, newMin) ||
		!revisionAfter(patched.ResourceVersion, first.ResourceVersion) {
		t.Fatalf("patched: %+v", patched)
	}
	if err := c.Client.CoreV1().LimitRanges("default").DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: "e2e-limitrange=patched"}); err != nil {
		t.Fatal(err)
	}
	all, err = c.Client.CoreV1().LimitRanges("").List(ctx, metav1.ListOptions{LabelSelector: "e2e-test=e2e-limitrange"})
	if err != nil || len(all.Items) != 1 || all.Items[0].Namespace != "other" {
		t.Fatalf("after deletecollection: %v, %v; want the one in other", all, err)
	}
}

// TestLimitRangeWithKubectl: kubectl finds LimitRanges by their short name
// and prints upstream's columns.
func TestLimitRangeWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	k := harness.BuiltinKubectl(t)
	out := c.MustRun(t, k, `apiVersion: v1
kind: LimitRange
metadata:
  name: mem
spec:
  limits:
  - type: Container
    max:
      memory: 1Gi
`, "create", "-f", "-")
	mustContain(t, "create", out, "limitrange/mem created")
	out = c.MustRun(t, k, "", "get", "limits")
	if !hasLine(out, "NAME", "CREATED", "AT") || !hasRow(out, "mem", anyField) {
		t.Fatalf("kubectl get limits:\n%s", out)
	}
	out = c.MustRun(t, k, "", "get", "limits", "mem", "-o", "jsonpath={.spec.limits[0].default.memory} {.spec.limits[0].defaultRequest.memory}")
	if out != "1Gi 1Gi" {
		t.Fatalf("defaults from max: %q, want 1Gi 1Gi", out)
	}
}
