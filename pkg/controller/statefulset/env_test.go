package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
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
	"k8s.io/utils/ptr"
)

const ns = "default"

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// env runs the controller on a fake clientset that stores pods as the API
// server would where the controller depends on it (a UID, phase Pending on
// create, graceful deletion when asked for) and journals pod writes in order.
type env struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset

	mu       sync.Mutex
	n        int
	rv       int
	journal  []string // "create web-0", "delete web-2", ...
	ready    bool     // new pods start Running and Ready
	graceful bool     // deletes only mark pods terminating
}

func newEnv(t *testing.T, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, client: fake.NewClientset()}
	for _, o := range opts {
		o(e)
	}
	// The fake tracker stores no resourceVersion; informers' update handlers
	// need one that changes, as the API server's does.
	e.client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch a := a.(type) {
		case k8stesting.CreateAction:
			obj = a.GetObject()
		case k8stesting.UpdateAction:
			obj = a.GetObject()
		default:
			return false, nil, nil
		}
		if m, err := meta.Accessor(obj); err == nil {
			e.mu.Lock()
			e.rv++
			m.SetResourceVersion(strconv.Itoa(e.rv))
			e.mu.Unlock()
		}
		return false, nil, nil
	})
	// As the API server: /status writes only status, the main resource keeps it.
	e.client.PrependReactor("update", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		u := a.(k8stesting.UpdateAction)
		set := u.GetObject().(*appsv1.StatefulSet)
		obj, err := e.client.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("statefulsets"), set.Namespace, set.Name)
		if err != nil {
			return true, nil, err
		}
		stored := obj.(*appsv1.StatefulSet).DeepCopy()
		if a.GetSubresource() == "status" {
			stored.Status = set.Status
			stored.ResourceVersion = set.ResourceVersion
			*set = *stored
		} else {
			set.Status = stored.Status
		}
		return false, nil, nil
	})
	e.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.n++
		pod.UID = types.UID(fmt.Sprintf("%s-uid-%d", pod.Name, e.n))
		pod.Status.Phase = corev1.PodPending
		if e.ready {
			runningAndReady(pod)
		}
		e.journal = append(e.journal, "create "+pod.Name)
		return false, nil, nil
	})
	e.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		e.mu.Lock()
		e.journal = append(e.journal, "delete "+name)
		graceful := e.graceful
		e.mu.Unlock()
		if !graceful {
			return false, nil, nil
		}
		obj, err := e.client.Tracker().Get(podsGVR, ns, name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		if pod.DeletionTimestamp == nil {
			pod.DeletionTimestamp = ptr.To(metav1.Now())
			return true, nil, e.client.Tracker().Update(podsGVR, pod, ns)
		}
		return true, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	factory := informers.NewSharedInformerFactory(e.client, 0)
	c := New(e.client, factory, Options{Workers: 2, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
	return e
}

func autoReady(e *env) { e.ready = true }
func graceful(e *env)  { e.graceful = true }

func runningAndReady(pod *corev1.Pod) {
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now(),
	}}
}

func newSet(name string, replicas int32) *appsv1.StatefulSet {
	lbls := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To(replicas),
			Selector:             &metav1.LabelSelector{MatchLabels: lbls},
			ServiceName:          name + "-svc",
			PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
			RevisionHistoryLimit: ptr.To[int32](10),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
		},
	}
}

func (e *env) createSet(set *appsv1.StatefulSet) {
	e.t.Helper()
	if _, err := e.client.AppsV1().StatefulSets(ns).Create(e.ctx, set, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// updateSet changes the set's spec as a user would (bumping generation as the
// API server would).
func (e *env) updateSet(name string, change func(*appsv1.StatefulSet)) {
	e.t.Helper()
	set := e.set(name)
	change(set)
	set.Generation++
	if _, err := e.client.AppsV1().StatefulSets(ns).Update(e.ctx, set, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) set(name string) *appsv1.StatefulSet {
	e.t.Helper()
	set, err := e.client.AppsV1().StatefulSets(ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return set
}

func (e *env) pod(name string) *corev1.Pod {
	obj, err := e.client.Tracker().Get(podsGVR, ns, name)
	if err != nil {
		return nil
	}
	return obj.(*corev1.Pod)
}

// podNames lists the pods that exist, sorted.
func (e *env) podNames() []string {
	list, err := e.client.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func (e *env) markReady(name string) {
	e.t.Helper()
	pod := e.pod(name).DeepCopy()
	runningAndReady(pod)
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(e.ctx, pod, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// finalize removes a terminating pod, as the kubelet would once it stopped.
func (e *env) finalize(name string) {
	e.t.Helper()
	if err := e.client.Tracker().Delete(podsGVR, ns, name); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deletePod(name string) {
	e.t.Helper()
	if err := e.client.CoreV1().Pods(ns).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) writes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.journal)
}

func (e *env) resetJournal() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.journal = nil
}

// eventually polls cond for up to 10 seconds.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; pods %v; writes %v", what, e.podNames(), e.writes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// never checks that cond stays false for a while (long enough for several
// syncs on the fake clientset).
func (e *env) never(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if cond() {
			e.t.Fatalf("%s; pods %v; writes %v", what, e.podNames(), e.writes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) hasPods(names ...string) func() bool {
	return func() bool { return slices.Equal(e.podNames(), names) }
}

func (e *env) exists(name string) func() bool {
	return func() bool { return e.pod(name) != nil }
}

func (e *env) statusIs(name string, ok func(appsv1.StatefulSetStatus) bool) func() bool {
	return func() bool { return ok(e.set(name).Status) }
}

func joined(s []string) string { return strings.Join(s, ", ") }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
