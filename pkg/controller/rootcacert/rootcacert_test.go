package rootcacert

import (
	"context"
	"fmt"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

// start runs a controller on a fake clientset holding objs.
func start(t *testing.T, objs ...any) (*fake.Clientset, *Controller) {
	t.Helper()
	client := fake.NewClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Namespace:
			_, err = client.CoreV1().Namespaces().Create(context.Background(), o, metav1.CreateOptions{})
		case *corev1.ConfigMap:
			_, err = client.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{CA: []byte(caPEM), Workers: 1})
	controllertest.Run(t, factory, c)
	return client, c
}

// published reports whether ns holds kube-root-ca.crt exactly as upstream
// publishes it, and what it holds.
func published(client *fake.Clientset, ns string) (bool, string) {
	cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	ok := maps.Equal(cm.Data, map[string]string{"ca.crt": caPEM}) &&
		cm.Annotations["kubernetes.io/description"] == "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
	return ok, fmt.Sprintf("data %q annotations %q", cm.Data, cm.Annotations)
}

func writes(client *fake.Clientset, ns string) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetNamespace() == ns && a.GetResource().Resource == "configmaps" && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

// TestPublishesTheRootCA: every active namespace gets kube-root-ca.crt, new
// ones too; a deleted one comes back, an edited one is put back; other
// ConfigMaps are left alone and terminating namespaces get nothing.
func TestPublishesTheRootCA(t *testing.T) {
	ctx := context.Background()
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "a"}, Data: map[string]string{"k": "v"}}
	client, c := start(t, namespace("a", corev1.NamespaceActive), namespace("gone", corev1.NamespaceTerminating), other)
	cms := func(ns string) func() (bool, string) { return func() (bool, string) { return published(client, ns) } }

	controllertest.Eventually(t, "kube-root-ca.crt in a", cms("a"))
	if _, err := client.CoreV1().Namespaces().Create(ctx, namespace("b", corev1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "kube-root-ca.crt in a new namespace", cms("b"))

	cmClient := client.CoreV1().ConfigMaps("a")
	if err := cmClient.Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "kube-root-ca.crt recreated", cms("a"))

	for _, edit := range []struct {
		name string
		do   func(*corev1.ConfigMap)
	}{
		{"data changed", func(cm *corev1.ConfigMap) { cm.Data["ca.crt"] = "not a CA" }},
		{"a key added", func(cm *corev1.ConfigMap) { cm.Data["extra"] = "x" }},
		{"data removed", func(cm *corev1.ConfigMap) { cm.Data = nil }},
		{"description removed", func(cm *corev1.ConfigMap) { delete(cm.Annotations, DescriptionAnnotation) }},
	} {
		controllertest.Eventually(t, "the informer seeing kube-root-ca.crt before "+edit.name, func() (bool, string) {
			cm, err := c.published.ConfigMaps("a").Get(ConfigMapName)
			if err != nil {
				return false, err.Error()
			}
			ok, state := published(client, "a")
			return ok && cm.Data["ca.crt"] == caPEM && cm.Annotations[DescriptionAnnotation] != "", state
		})
		cm, err := cmClient.Get(ctx, ConfigMapName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		edit.do(cm)
		if _, err := cmClient.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		controllertest.Eventually(t, "kube-root-ca.crt put back after "+edit.name, cms("a"))
	}
	// Other annotations and labels are the user's.
	cm, _ := cmClient.Get(ctx, ConfigMapName, metav1.GetOptions{})
	cm.Labels = map[string]string{"team": "x"}
	cm.Data["ca.crt"] = "edited"
	if _, err := cmClient.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "kube-root-ca.crt put back, keeping its labels", func() (bool, string) {
		ok, state := published(client, "a")
		cm, _ := cmClient.Get(ctx, ConfigMapName, metav1.GetOptions{})
		return ok && cm.Labels["team"] == "x", state
	})

	if got, err := cmClient.Get(ctx, "other", metav1.GetOptions{}); err != nil || !maps.Equal(got.Data, other.Data) {
		t.Errorf("the other ConfigMap: %v %v", got, err)
	}
	if w := writes(client, "gone"); len(w) != 0 {
		t.Errorf("writes in the terminating namespace: %v", w)
	}
	if _, err := client.CoreV1().ConfigMaps("gone").Get(ctx, ConfigMapName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kube-root-ca.crt in the terminating namespace: %v", err)
	}
}

// TestTerminatingNamespaceGetsNothing: a namespace on its way out is not
// given the ConfigMap back, nor one to begin with.
func TestTerminatingNamespaceGetsNothing(t *testing.T) {
	ctx := context.Background()
	client, c := start(t, namespace("a", corev1.NamespaceActive), namespace("gone", corev1.NamespaceTerminating))
	controllertest.Eventually(t, "kube-root-ca.crt in a", func() (bool, string) { return published(client, "a") })
	ns, _ := client.CoreV1().Namespaces().Get(ctx, "a", metav1.GetOptions{})
	ns.Status.Phase = corev1.NamespaceTerminating
	if _, err := client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// (A real API server refuses creates in it once it is terminating; the
	// fake does not, so the informer must know before the deletion.)
	controllertest.Eventually(t, "the informer seeing a terminating", func() (bool, string) {
		ns, _ := c.namespaces.Get("a")
		return ns.Status.Phase == corev1.NamespaceTerminating, string(ns.Status.Phase)
	})
	if err := client.CoreV1().ConfigMaps("a").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the informer seeing the deletion", func() (bool, string) {
		_, err := c.published.ConfigMaps("a").Get(ConfigMapName)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	client.ClearActions()
	for _, name := range []string{"a", "gone"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatal(err)
		}
		if w := writes(client, name); len(w) != 0 {
			t.Errorf("terminating namespace %s: %v", name, w)
		}
	}
}

// TestWatchesItsOwnConfigMapOnly: the controller lists and watches ConfigMaps
// through a field selector on the name, and another ConfigMap's change makes
// no work.
func TestWatchesItsOwnConfigMapOnly(t *testing.T) {
	client, _ := start(t, namespace("a", corev1.NamespaceActive))
	controllertest.Eventually(t, "kube-root-ca.crt in a", func() (bool, string) { return published(client, "a") })
	var selectors []string
	for _, a := range client.Actions() {
		if a.GetResource().Resource != "configmaps" {
			continue
		}
		switch a := a.(type) {
		case clienttesting.ListAction:
			selectors = append(selectors, "list "+a.GetListRestrictions().Fields.String())
		case clienttesting.WatchAction:
			selectors = append(selectors, "watch "+a.GetWatchRestrictions().Fields.String())
		}
	}
	if fmt.Sprint(selectors) != "[list metadata.name=kube-root-ca.crt watch metadata.name=kube-root-ca.crt]" {
		t.Errorf("ConfigMap list and watch: %v", selectors)
	}
	// Should a server ignore the selector, the handlers still queue nothing
	// for another ConfigMap.
	idle := New(client, informers.NewSharedInformerFactory(client, 0), Options{CA: []byte(caPEM)})
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "a"}}
	idle.enqueueConfigMap(other)
	idle.enqueueConfigMap(cache.DeletedFinalStateUnknown{Key: "a/other", Obj: other})
	if n := idle.queue.Len(); n != 0 {
		t.Errorf("%d keys queued by another ConfigMap", n)
	}
	idle.enqueueConfigMap(cache.DeletedFinalStateUnknown{Key: "a/" + ConfigMapName, Obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "a"}}})
	if n := idle.queue.Len(); n != 1 {
		t.Errorf("%d keys queued by the deletion of kube-root-ca.crt, want 1", n)
	}
}
