package namespace_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/garbagecollector"
	"github.com/skiffhq/skiff/pkg/controller/namespace"
	"github.com/skiffhq/skiff/pkg/controller/replication"
	"github.com/skiffhq/skiff/pkg/controller/serviceaccount"
	"github.com/skiffhq/skiff/test/harness"
)

// start runs a control plane with the namespace controller and the loops that
// fill namespaces (replication, service accounts) and empty them (GC).
func start(t *testing.T) (*harness.Cluster, dynamic.Interface) {
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
	loops := []controllertest.Loop{
		namespace.New(c.Client, dyn, factory, namespace.Options{}),
		replication.New(c.Client, factory, replication.Options{}),
		serviceaccount.New(c.Client, factory, serviceaccount.Options{}),
		gc,
	}
	controllertest.Run(t, factory, loops...)
	return c, dyn
}

func kubectl(t *testing.T) harness.Kubectl {
	ks := harness.Kubectls(t)
	return ks[len(ks)-1]
}

const manifest = `apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
`

// content counts what is left in a namespace, per resource, using discovery
// the way a user's `kubectl get all,cm,secret,...` would.
func content(t *testing.T, c *harness.Cluster, dyn dynamic.Interface, ns string) map[string]int {
	t.Helper()
	lists, err := c.Client.Discovery().ServerPreferredNamespacedResources()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue // a subresource, or a review that is only created
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("listing %s: %v", r.Name, err)
			}
			if n := len(items.Items); n > 0 {
				out[r.Name] = n
			}
		}
	}
	return out
}

func TestKubectlDeleteNamespaceEmptiesAndRemovesIt(t *testing.T) {
	c, dyn := start(t)
	k := kubectl(t)
	c.MustRun(t, k, "", "create", "namespace", "demo")
	c.MustRun(t, k, manifest, "apply", "-n", "demo", "-f", "-")
	controllertest.Eventually(t, "3 pods and the default ServiceAccount in demo", func() (bool, string) {
		got := content(t, c, dyn, "demo")
		return got["pods"] == 3 && got["serviceaccounts"] == 1, fmt.Sprint(got)
	})

	start := time.Now()
	out := c.MustRun(t, k, "", "delete", "namespace", "demo", "--timeout=20s")
	if strings.TrimSpace(out) != `namespace "demo" deleted` {
		t.Errorf("kubectl delete printed %q", out)
	}
	t.Logf("kubectl delete namespace returned after %v", time.Since(start).Round(time.Millisecond))
	if _, err := c.Client.CoreV1().Namespaces().Get(context.Background(), "demo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after kubectl delete returned: %v, want NotFound", err)
	}
	if left := content(t, c, dyn, "demo"); len(left) != 0 {
		t.Errorf("left in the deleted namespace: %v", left)
	}
	// The name can be used again, and the new namespace is empty but for its account.
	c.MustRun(t, k, "", "create", "namespace", "demo")
	controllertest.Eventually(t, "the new demo namespace's default ServiceAccount", func() (bool, string) {
		got := content(t, c, dyn, "demo")
		return fmt.Sprint(got) == "map[serviceaccounts:1]", fmt.Sprint(got)
	})
}

func condition(ns *corev1.Namespace, t corev1.NamespaceConditionType) corev1.NamespaceCondition {
	for _, c := range ns.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NamespaceCondition{}
}

func TestNamespaceWaitsForFinalizersAndReportsThem(t *testing.T) {
	c, dyn := start(t)
	ctx := context.Background()
	nss := c.Client.CoreV1().Namespaces()
	if _, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "held"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := c.Client.CoreV1().ConfigMaps("held")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nss.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var ns *corev1.Namespace
	controllertest.Eventually(t, "conditions naming the held ConfigMap", func() (bool, string) {
		var err error
		if ns, err = nss.Get(ctx, "held", metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		rem, fin := condition(ns, corev1.NamespaceContentRemaining), condition(ns, corev1.NamespaceFinalizersRemaining)
		return rem.Status == corev1.ConditionTrue && fin.Status == corev1.ConditionTrue, fmt.Sprintf("%+v", ns.Status)
	})
	want := map[corev1.NamespaceConditionType][3]string{
		corev1.NamespaceDeletionDiscoveryFailure: {"False", "ResourcesDiscovered", "All resources successfully discovered"},
		corev1.NamespaceDeletionGVParsingFailure: {"False", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
		corev1.NamespaceDeletionContentFailure:   {"False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
		corev1.NamespaceContentRemaining:         {"True", "SomeResourcesRemain", "Some resources are remaining: configmaps. has 1 resource instances"},
		corev1.NamespaceFinalizersRemaining:      {"True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"},
	}
	for typ, w := range want {
		got := condition(ns, typ)
		if string(got.Status) != w[0] || got.Reason != w[1] || got.Message != w[2] {
			t.Errorf("condition %s = %s %q %q, want %s %q %q", typ, got.Status, got.Reason, got.Message, w[0], w[1], w[2])
		}
	}
	if ns.Status.Phase != corev1.NamespaceTerminating || len(ns.Spec.Finalizers) != 1 {
		t.Errorf("namespace while content remains: phase %s, finalizers %v", ns.Status.Phase, ns.Spec.Finalizers)
	}
	if _, err := cms.Get(ctx, "plain", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("plain ConfigMap: %v, want deleted", err)
	}
	// Nothing new may move in meanwhile.
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Errorf("creating into a terminating namespace: %v, want refused", err)
	}
	if _, err := cms.Patch(ctx, "keep", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, dyn, "held")
}

// waitGone waits for the namespace to go once its last object has, and checks
// that nothing of it is left.
func waitGone(t *testing.T, c *harness.Cluster, dyn dynamic.Interface, ns string) {
	t.Helper()
	controllertest.Eventually(t, "namespace "+ns+" gone", func() (bool, string) {
		_, err := c.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if left := content(t, c, dyn, ns); len(left) != 0 {
		t.Errorf("left in %s: %v", ns, left)
	}
}

// TestPodsAreDeletedFirst: while a pod of a terminating namespace remains,
// nothing else in it is deleted (upstream's OrderedNamespaceDeletion, checked
// by the conformance test "namespace deletion should delete pod first").
func TestPodsAreDeletedFirst(t *testing.T) {
	c, dyn := start(t)
	ctx := context.Background()
	nss := c.Client.CoreV1().Namespaces()
	if _, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ordered"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, cms := c.Client.CoreV1().Pods("ordered"), c.Client.CoreV1().ConfigMaps("ordered")
	if _, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Finalizers: []string{"example.com/hold"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "pause"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nss.Delete(ctx, "ordered", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the namespace waiting on its pod", func() (bool, string) {
		ns, err := nss.Get(ctx, "ordered", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		// The conformance test waits for the content-failure condition to be
		// there at all before it looks.
		rem, failed := condition(ns, corev1.NamespaceContentRemaining), condition(ns, corev1.NamespaceDeletionContentFailure)
		return rem.Message == "Some resources are remaining: pods. has 1 resource instances" && failed.Type != "", fmt.Sprintf("%+v", ns.Status)
	})
	pod, err := pods.Get(ctx, "app", metav1.GetOptions{})
	if err != nil || pod.DeletionTimestamp == nil {
		t.Fatalf("pod while the namespace waits: %v, deletionTimestamp %v; want it being deleted", err, pod.DeletionTimestamp)
	}
	if _, err := cms.Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap while a pod remains: %v, want it kept", err)
	}
	if _, err := pods.Patch(ctx, "app", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, dyn, "ordered")
}
