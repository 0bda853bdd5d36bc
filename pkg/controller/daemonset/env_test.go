package daemonset_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/retry"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/daemonset"
)

const ns = "default"

// env is the DaemonSet controller running on a fake clientset whose create
// reactor does what the API server would for the controller's sake (names
// from generateName, UIDs, creation times a second apart), with a log of the
// pods created and deleted. Nothing schedules or runs pods: tests bind them
// and set them ready themselves, as the scheduler and kubelet would.
type env struct {
	t      testing.TB
	client *fake.Clientset

	mu      sync.Mutex
	n       int
	created time.Time
	journal []string // "create web-3 n1", "delete web-1"
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, client: fake.NewClientset(), created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, res := range []string{"pods", "daemonsets", "controllerrevisions", "nodes"} {
		e.client.PrependReactor("create", res, e.create)
		e.client.PrependReactor("update", res, e.update)
		e.client.PrependReactor("patch", res, e.patch)
	}
	e.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		e.note("delete " + a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(e.client, 0)
	ctrl := daemonset.New(e.client, factory, daemonset.Options{Workers: 2})
	controllertest.Run(t, factory, ctrl)
	return e
}

func (e *env) note(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.journal = append(e.journal, s)
}

func (e *env) writes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.journal)
}

func (e *env) create(a k8stesting.Action) (bool, runtime.Object, error) {
	obj := a.(k8stesting.CreateAction).GetObject()
	m, _ := meta.Accessor(obj)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	e.created = e.created.Add(time.Second)
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + strconv.Itoa(e.n))
	}
	m.SetUID(types.UID(fmt.Sprintf("uid-%d", e.n)))
	m.SetCreationTimestamp(metav1.NewTime(e.created))
	m.SetResourceVersion(strconv.Itoa(e.n))
	if pod, ok := obj.(*corev1.Pod); ok {
		e.journal = append(e.journal, "create "+pod.Name+" "+nodeOf(pod))
	}
	return false, nil, nil
}

// update stores an object as the API server would: compare-and-swap on the
// resourceVersion, a new one each time, and for a DaemonSet's /status only
// the status (the main resource keeps the status as it was).
func (e *env) update(a k8stesting.Action) (bool, runtime.Object, error) {
	in := a.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
	m, _ := meta.Accessor(in)
	e.mu.Lock()
	defer e.mu.Unlock()
	cur, err := controllertest.Stored(e.client.Tracker(), a.(k8stesting.UpdateAction))
	if err != nil {
		return true, nil, err
	}
	if ds, ok := in.(*appsv1.DaemonSet); ok {
		old := cur.(*appsv1.DaemonSet)
		if a.GetSubresource() == "status" {
			ds.Spec, ds.ObjectMeta = old.Spec, *old.ObjectMeta.DeepCopy()
		} else {
			ds.Status = old.Status
		}
	}
	e.n++
	m.SetResourceVersion(strconv.Itoa(e.n))
	if err := e.client.Tracker().Update(a.GetResource(), in, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	return true, in, nil
}

// patch applies a strategic merge or merge patch with a new resourceVersion,
// refusing it when its metadata.uid names another object.
func (e *env) patch(a k8stesting.Action) (bool, runtime.Object, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return controllertest.Patch(e.client.Tracker(), a.(k8stesting.PatchAction), func() string {
		e.n++
		return strconv.Itoa(e.n)
	})
}

// nodeOf is the node a daemon pod's affinity pins it to.
func nodeOf(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

func (e *env) addNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	e.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	n, err := e.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating node %s: %v", name, err)
	}
	return n
}

func (e *env) updateNode(name string, change func(*corev1.Node)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(n)
		_, err = e.client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("updating node %s: %v", name, err)
	}
}

func newDaemonSet(name, image string) *appsv1.DaemonSet {
	lbls := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1,
			Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
		},
	}
}

func (e *env) createDaemonSet(ds *appsv1.DaemonSet) *appsv1.DaemonSet {
	e.t.Helper()
	ds, err := e.client.AppsV1().DaemonSets(ns).Create(context.Background(), ds, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating daemon set: %v", err)
	}
	return ds
}

// updateDaemonSet changes a DaemonSet's spec as the API server would: the
// generation and, for a template change, the template generation move on.
func (e *env) updateDaemonSet(name string, change func(*appsv1.DaemonSet)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ds, err := e.client.AppsV1().DaemonSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(ds)
		ds.Generation++
		g, _ := strconv.Atoi(ds.Annotations[appsv1.DeprecatedTemplateGeneration])
		ds.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.Itoa(g + 1)
		_, err = e.client.AppsV1().DaemonSets(ns).Update(context.Background(), ds, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("updating daemon set %s: %v", name, err)
	}
}

func (e *env) daemonSet(name string) *appsv1.DaemonSet {
	e.t.Helper()
	ds, err := e.client.AppsV1().DaemonSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("getting daemon set %s: %v", name, err)
	}
	return ds
}

// pods are the live pods, by name.
func (e *env) pods() []corev1.Pod {
	e.t.Helper()
	list, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("listing pods: %v", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// placement maps node to the images of the pods pinned there.
func (e *env) placement() map[string][]string {
	m := map[string][]string{}
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil {
			m[nodeOf(&p)] = append(m[nodeOf(&p)], p.Spec.Containers[0].Image)
		}
	}
	return m
}

// run binds a pod to its node and makes it Running and, if ready, Ready,
// as the scheduler and kubelet would.
func (e *env) run(name string, ready bool) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.NodeName = nodeOf(p)
		p.Status.Phase = corev1.PodRunning
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}
		_, err = e.client.CoreV1().Pods(ns).Update(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("running pod %s: %v", name, err)
	}
}

// runAll runs every pod not yet Running.
func (e *env) runAll(ready bool) {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.Status.Phase != corev1.PodRunning {
			e.run(p.Name, ready)
		}
	}
}

func (e *env) setPhase(name string, phase corev1.PodPhase) {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	p.Status.Phase = phase
	p.Status.Conditions = nil
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitPlacement(want map[string][]string) {
	e.t.Helper()
	controllertest.Eventually(e.t, fmt.Sprintf("pods on %v", want), func() (bool, string) {
		got := e.placement()
		for k := range got {
			sort.Strings(got[k])
		}
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
}

// settle waits until the controller has been quiet for a while.
func (e *env) settle() {
	e.t.Helper()
	last := -1
	for stable := 0; stable < 5; {
		time.Sleep(40 * time.Millisecond)
		n := len(e.writes())
		if n == last {
			stable++
		} else {
			stable, last = 0, n
		}
	}
}
