package garbagecollector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/garbagecollector"
	"github.com/skiffhq/skiff/pkg/controller/replication"
	"github.com/skiffhq/skiff/test/harness"
)

const ns = "default"

// start runs a control plane with the garbage collector and the
// ReplicationManager (which makes the dependents).
func start(t *testing.T) *harness.Cluster {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	gc, err := garbagecollector.New(dyn, factory, garbagecollector.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rm := replication.New(c.Client, factory, replication.Options{Workers: 8})
	controllertest.Run(t, factory, gc, rm)
	return c
}

func kubectl(t *testing.T) harness.Kubectl {
	ks := harness.Kubectls(t)
	return ks[len(ks)-1]
}

func createRC(t *testing.T, c *harness.Cluster, name string, n int32) *corev1.ReplicationController {
	t.Helper()
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &n,
			Selector: map[string]string{"app": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "luksa/kubia"}}},
			},
		},
	}
	out, err := c.Client.CoreV1().ReplicationControllers(ns).Create(context.Background(), rc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, "app="+name, int(n))
	return out
}

func pods(t *testing.T, c *harness.Cluster, selector string) []corev1.Pod {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func waitPods(t *testing.T, c *harness.Cluster, selector string, n int) []corev1.Pod {
	t.Helper()
	var got []corev1.Pod
	controllertest.Eventually(t, fmt.Sprintf("%d pods %s", n, selector), func() (bool, string) {
		got = pods(t, c, selector)
		return len(got) == n, fmt.Sprint(len(got))
	})
	return got
}

func rcGone(t *testing.T, c *harness.Cluster, name string) bool {
	_, err := c.Client.CoreV1().ReplicationControllers(ns).Get(context.Background(), name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func TestDeleteRCCascadesInTheBackground(t *testing.T) {
	c := start(t)
	k := kubectl(t)
	createRC(t, c, "kubia", 3)
	out := c.MustRun(t, k, "", "delete", "rc", "kubia")
	if strings.TrimSpace(out) != `replicationcontroller "kubia" deleted` {
		t.Errorf("kubectl delete printed %q", out)
	}
	if !rcGone(t, c, "kubia") {
		t.Error("RC still there after kubectl delete returned")
	}
	waitPods(t, c, "app=kubia", 0)

	createRC(t, c, "other", 2)
	c.MustRun(t, k, "", "delete", "rc", "other", "--cascade=background")
	waitPods(t, c, "app=other", 0)
}

func TestDeleteRCWithCascadeOrphanKeepsPods(t *testing.T) {
	c := start(t)
	rc := createRC(t, c, "kubia", 3)
	c.MustRun(t, kubectl(t), "", "delete", "rc", "kubia", "--cascade=orphan")
	if !rcGone(t, c, "kubia") {
		t.Fatal("RC still there after kubectl delete --cascade=orphan returned")
	}
	got := waitPods(t, c, "app=kubia", 3)
	for _, p := range got {
		if len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
			t.Errorf("pod %s: ownerReferences %+v, deletionTimestamp %v; want orphaned and alive", p.Name, p.OwnerReferences, p.DeletionTimestamp)
		}
	}
	// A new RC with the same selector adopts them instead of making more.
	createRC(t, c, "kubia", 3)
	controllertest.Eventually(t, "adoption by the new RC", func() (bool, string) {
		for _, p := range pods(t, c, "app=kubia") {
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID == rc.UID {
				return false, fmt.Sprintf("%s: %+v", p.Name, p.OwnerReferences)
			}
		}
		return true, ""
	})
	if n := len(pods(t, c, "app=kubia")); n != 3 {
		t.Errorf("%d pods, want the 3 adopted", n)
	}
}

// ownedConfigMap is a ConfigMap that names owner, blocking its foreground
// deletion, and holds a finalizer so it lingers until the test lets it go.
func ownedConfigMap(name string, owner metav1.Object, kind string, finalizers ...string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:       name,
		Finalizers: finalizers,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), BlockOwnerDeletion: ptr(true),
		}},
	}}
}

func ptr[T any](v T) *T { return &v }

func TestDeleteRCInTheForegroundWaitsForDependents(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	rc := createRC(t, c, "kubia", 3)
	// A dependent that cannot go until its finalizer is removed keeps the RC.
	cms := c.Client.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, ownedConfigMap("held", rc, "ReplicationController", "example.com/hold"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := kubectl(t)
	out, errOut, err := c.Run(k, "", "delete", "rc", "kubia", "--cascade=foreground", "--wait=false")
	if err != nil {
		t.Fatalf("kubectl delete --cascade=foreground: %v\n%s%s", err, out, errOut)
	}
	waitPods(t, c, "app=kubia", 0)
	controllertest.Eventually(t, "the held ConfigMap marked deleted", func() (bool, string) {
		cm, err := cms.Get(ctx, "held", metav1.GetOptions{})
		return err == nil && cm.DeletionTimestamp != nil, fmt.Sprint(err)
	})
	got, err := c.Client.CoreV1().ReplicationControllers(ns).Get(ctx, "kubia", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Fatalf("RC while a dependent remains: %v, %+v; want it waiting with the foregroundDeletion finalizer", err, got.ObjectMeta)
	}
	if _, err := cms.Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the RC gone once its dependents are", func() (bool, string) { return rcGone(t, c, "kubia"), "" })

	// kubectl's own wait returns once everything is gone.
	createRC(t, c, "other", 2)
	c.MustRun(t, k, "", "delete", "rc", "other", "--cascade=foreground")
	if !rcGone(t, c, "other") || len(pods(t, c, "app=other")) != 0 {
		t.Errorf("after kubectl delete --cascade=foreground returned: RC gone %v, pods %d", rcGone(t, c, "other"), len(pods(t, c, "app=other")))
	}
}

func TestDanglingAndPartialOwners(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps(ns)
	alive, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "alive"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ghost := &metav1.ObjectMeta{Name: "ghost", UID: "0b5e7b8e-0000-4000-8000-000000000001"}
	if _, err := cms.Create(ctx, ownedConfigMap("orphaned", ghost, "ConfigMap"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := ownedConfigMap("two-owners", ghost, "ConfigMap")
	two.OwnerReferences = append(two.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: alive.Name, UID: alive.UID})
	if _, err := cms.Create(ctx, two, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Same name as an existing object, another UID: that owner is gone too.
	stale := ownedConfigMap("stale-uid", &metav1.ObjectMeta{Name: "alive", UID: "0b5e7b8e-0000-4000-8000-000000000002"}, "ConfigMap")
	if _, err := cms.Create(ctx, stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An owner of a kind the collector cannot look up is never judged absent.
	unknown := ownedConfigMap("unknown-kind", &metav1.ObjectMeta{Name: "x", UID: "0b5e7b8e-0000-4000-8000-000000000003"}, "Widget")
	unknown.OwnerReferences[0].APIVersion = "example.com/v1"
	if _, err := cms.Create(ctx, unknown, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "dependents of absent owners deleted", func() (bool, string) {
		_, e1 := cms.Get(ctx, "orphaned", metav1.GetOptions{})
		_, e2 := cms.Get(ctx, "stale-uid", metav1.GetOptions{})
		return apierrors.IsNotFound(e1) && apierrors.IsNotFound(e2), fmt.Sprint(e1, e2)
	})
	controllertest.Eventually(t, "the dangling reference removed, the object kept", func() (bool, string) {
		cm, err := cms.Get(ctx, "two-owners", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == alive.UID, fmt.Sprintf("%+v", cm.OwnerReferences)
	})
	if _, err := cms.Get(ctx, "unknown-kind", metav1.GetOptions{}); err != nil {
		t.Errorf("object owned by an unknown kind: %v", err)
	}
	// Deleting the remaining owner takes its dependent with it.
	if err := cms.Delete(ctx, "alive", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "two-owners deleted with its last owner", func() (bool, string) {
		_, err := cms.Get(ctx, "two-owners", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func TestClusterScopedOwner(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	node, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
		Name: "node-a", Namespace: "kube-node-lease",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}},
	}}
	if _, err := c.Client.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.CoreV1().Nodes().Delete(ctx, "node-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the node's lease deleted", func() (bool, string) {
		_, err := c.Client.CoordinationV1().Leases("kube-node-lease").Get(ctx, "node-a", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func TestDeletingABigRC(t *testing.T) {
	c := start(t)
	createRC(t, c, "big", 300)
	c.MustRun(t, kubectl(t), "", "delete", "rc", "big")
	waitPods(t, c, "app=big", 0)
}
