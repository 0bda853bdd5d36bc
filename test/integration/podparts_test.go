package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/test/harness"
)

// TestKubectlDebug: each real kubectl adds an ephemeral container targeting a
// container of a pod through pods/ephemeralcontainers (a strategic merge
// patch in 1.27–1.33), and the pod's generation moves. Starting and attaching
// to it (-it) is the node's part.
func TestKubectlDebug(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	for _, k := range harness.Kubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			name := "debug-" + strings.ReplaceAll(k.Version, ".", "-")
			pods := c.Client.CoreV1().Pods("default")
			_, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "luksa/kubia"}}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, err := c.Run(k, "", "debug", name, "--image=busybox", "--target=app", "--container=dbg")
			if err != nil {
				t.Fatalf("kubectl debug: %v\n%s", err, errOut)
			}
			mustContain(t, "kubectl debug", out, `Targeting container "app".`)
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ec := p.Spec.EphemeralContainers
			if len(ec) != 1 || ec[0].Name != "dbg" || ec[0].Image != "busybox" || ec[0].TargetContainerName != "app" {
				t.Fatalf("ephemeral containers %+v, want dbg (busybox) targeting app", ec)
			}
			if p.Generation != 2 {
				t.Errorf("generation %d, want 2", p.Generation)
			}
		})
	}
}

// TestPodResize resizes a pod through pods/resize with client-go, as
// upstream's conformance tests do (patch, then replace), and checks that a
// plain update cannot.
func TestPodResize(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	cpu := func(v string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)}
	}
	p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "resize"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c1", Image: "luksa/kubia",
			Resources: corev1.ResourceRequirements{Requests: cpu("2m"), Limits: cpu("10m")}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err = pods.Patch(ctx, "resize", types.StrategicMergePatchType,
		[]byte(`{"spec":{"containers":[{"name":"c1","resources":{"requests":{"cpu":"1m"},"limits":{"cpu":"5m"}}}]}}`), metav1.PatchOptions{}, "resize")
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "1m" || r.Limits.Cpu().String() != "5m" || p.Generation != 2 {
		t.Fatalf("after the patch: %v, generation %d", r, p.Generation)
	}
	// Replace what was read, as upstream's conformance test does (the
	// scheduler may have written the status since the patch).
	if p, err = pods.Get(ctx, "resize", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Spec.Containers[0].Resources.Requests = cpu("3m")
	if p, err = pods.UpdateResize(ctx, "resize", p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Containers[0].Resources.Requests.Cpu().String() != "3m" || p.Generation != 3 {
		t.Fatalf("after the replace: %v, generation %d", p.Spec.Containers[0].Resources, p.Generation)
	}
	p.Spec.Containers[0].Resources.Requests = cpu("4m")
	p.ResourceVersion = "" // of whatever is stored, so that the answer is about resources
	if _, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "pod updates may not change fields other than") {
		t.Fatalf("a plain update of resources: %v", err)
	}
	_, err = pods.Patch(ctx, "resize", types.StrategicMergePatchType,
		[]byte(`{"spec":{"containers":[{"name":"c1","resources":{"limits":null}}]}}`), metav1.PatchOptions{}, "resize")
	if err == nil || !strings.Contains(err.Error(), "resource limits cannot be removed") {
		t.Fatalf("removing limits: %v", err)
	}
}

// TestInvalidSysctls is upstream's conformance test "should reject invalid
// sysctls": the error names the invalid ones and not the valid ones.
func TestInvalidSysctls(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	_, err := c.Client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sysctls"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "foo-", Value: "bar"}, {Name: "kernel.shmmax", Value: "100000000"},
				{Name: "safe-and-unsafe", Value: "100000000"}, {Name: "bar..", Value: "42"},
			}},
		}}, metav1.CreateOptions{})
	if err == nil {
		t.Fatal("created")
	}
	msg := err.Error()
	for _, s := range []string{`Invalid value: "foo-"`, `Invalid value: "bar.."`} {
		if !strings.Contains(msg, s) {
			t.Errorf("error does not say %s: %s", s, msg)
		}
	}
	for _, s := range []string{"safe-and-unsafe", "kernel.shmmax"} {
		if strings.Contains(msg, s) {
			t.Errorf("error names the valid %s: %s", s, msg)
		}
	}
}

// TestResizeOnHollowNode: a running pod's resize through pods/resize is
// accepted (its node reports the resources it applied), completes, and the
// container's status then reports the new resources.
func TestResizeOnHollowNode(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	cpu := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: cpu("100m"), Limits: cpu("200m")}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod running with its resources reported", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "r", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 {
			return false, fmt.Sprint(err)
		}
		r := p.Status.ContainerStatuses[0].Resources
		return r != nil && r.Limits.Cpu().String() == "200m", fmt.Sprintf("%+v", r)
	})
	patch := []byte(`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"150m"},"limits":{"cpu":"300m"}}}]}}`)
	if _, err := pods.Patch(ctx, "r", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resize reported done", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := p.Status.ContainerStatuses[0]
		return p.Status.ObservedGeneration == p.Generation && st.Resources.Limits.Cpu().String() == "300m" && st.AllocatedResources.Cpu().String() == "150m",
			fmt.Sprintf("generation %d observed %d, %+v", p.Generation, p.Status.ObservedGeneration, st.Resources)
	})
}
