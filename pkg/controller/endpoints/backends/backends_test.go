package backends

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestFindPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		}}},
		InitContainers: []corev1.Container{
			{Ports: []corev1.ContainerPort{{Name: "plain-init", ContainerPort: 1, Protocol: corev1.ProtocolTCP}}},
			{RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Ports: []corev1.ContainerPort{{Name: "sidecar", ContainerPort: 15000, Protocol: corev1.ProtocolTCP}}},
		},
	}}
	for _, tc := range []struct {
		target intstr.IntOrString
		proto  corev1.Protocol
		want   int32
		ok     bool
	}{
		{intstr.FromInt32(9000), corev1.ProtocolTCP, 9000, true},
		{intstr.FromString("http"), corev1.ProtocolTCP, 8080, true},
		{intstr.FromString("http"), corev1.ProtocolUDP, 0, false}, // protocol must match
		{intstr.FromString("dns"), corev1.ProtocolUDP, 5353, true},
		{intstr.FromString("sidecar"), corev1.ProtocolTCP, 15000, true},
		{intstr.FromString("plain-init"), corev1.ProtocolTCP, 0, false}, // init containers that finish serve nothing
		{intstr.FromString("missing"), corev1.ProtocolTCP, 0, false},
	} {
		got, err := FindPort(pod, &corev1.ServicePort{Port: 80, Protocol: tc.proto, TargetPort: tc.target})
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("FindPort(%s/%s) = %d, %v; want %d, ok=%v", tc.target.String(), tc.proto, got, err, tc.want, tc.ok)
		}
	}
}

func serviceLister(t *testing.T, svcs ...*corev1.Service) corelisters.ServiceLister {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range svcs {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewServiceLister(idx)
}

func svc(ns, name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Selector: selector}}
}

func TestServicesForPodUpdate(t *testing.T) {
	lister := serviceLister(t,
		svc("a", "web", map[string]string{"app": "web"}),
		svc("a", "canary", map[string]string{"app": "web", "track": "canary"}),
		svc("a", "all-db", map[string]string{"app": "db"}),
		svc("a", "manual", nil),
		svc("b", "web", map[string]string{"app": "web"}), // another namespace
	)
	base := func(rv string, labels map[string]string, ready bool) *corev1.Pod {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", ResourceVersion: rv, Labels: labels},
			Status:     corev1.PodStatus{PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
		}
	}
	web := map[string]string{"app": "web"}
	canary := map[string]string{"app": "web", "track": "canary"}
	db := map[string]string{"app": "db"}
	for _, tc := range []struct {
		name     string
		old, cur *corev1.Pod
		want     []string
	}{
		{"resync", base("1", web, true), base("1", web, false), nil},
		{"annotation only", base("1", web, true), base("2", web, true), nil},
		{"readiness", base("1", web, false), base("2", web, true), []string{"a/web"}},
		{"joins canary", base("1", web, true), base("2", canary, true), []string{"a/canary"}},
		{"moves app", base("1", web, true), base("2", db, true), []string{"a/all-db", "a/web"}},
		{"moves and turns ready", base("1", canary, false), base("2", db, true), []string{"a/all-db", "a/canary", "a/web"}},
	} {
		got := ServicesForPodUpdate(lister, tc.old, tc.cur)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: services = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func obj(uid, rv string) metav1.Object {
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv}}
}

func TestWrites(t *testing.T) {
	w := NewWrites()
	now := time.Unix(1000, 0)
	w.now = func() time.Time { return now }

	// Nothing written: never stale, every event is news.
	if w.Stale("ns/s", nil) || !w.Observe("ns/s", obj("a", "5"), false) {
		t.Fatal("a fresh tracker must trust the cache and pass events on")
	}

	w.Wrote("ns/s", obj("a", "10"))
	w.Deleted("ns/s", "b")
	// The cache still has a at 9 and b: stale.
	if !w.Stale("ns/s", []metav1.Object{obj("a", "9"), obj("b", "3")}) {
		t.Fatal("cache older than our writes must be stale")
	}
	// Older echoes are not news.
	if w.Observe("ns/s", obj("a", "9"), false) {
		t.Error("an event older than our write asked for a sync")
	}
	// Our own write coming back is not news either, but b's deletion
	// completes what the stale sync waited for: now a sync is due.
	if w.Observe("ns/s", obj("a", "10"), false) {
		t.Error("the echo of our write asked for a sync while one was still awaited")
	}
	if !w.Observe("ns/s", obj("b", "3"), true) {
		t.Error("the last awaited write did not ask for the deferred sync")
	}
	if w.Stale("ns/s", []metav1.Object{obj("a", "10")}) {
		t.Error("stale after the cache caught up")
	}
	// Someone else's write after ours is news.
	w.Wrote("ns/s", obj("a", "12"))
	if !w.Observe("ns/s", obj("a", "13"), false) {
		t.Error("a foreign write after ours did not ask for a sync")
	}

	// A write never seen stops blocking after the timeout.
	w.Wrote("ns/s", obj("c", "20"))
	if !w.Stale("ns/s", nil) {
		t.Fatal("missing created object must be stale")
	}
	now = now.Add(writeTimeout + time.Second)
	if w.Stale("ns/s", nil) {
		t.Error("still stale after the timeout")
	}
}

func TestTriggerTimes(t *testing.T) {
	tt := NewTriggerTimes()
	created := time.Unix(100, 0)
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: metav1.NewTime(created)}}
	p := func(name string, at int64) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(at, 0))}}}}
	}
	if got := tt.Compute("ns/s", s, []*corev1.Pod{p("a", 200)}); !got.Equal(created) {
		t.Errorf("first sync: %v, want the Service's creation %v", got, created)
	}
	if got := tt.Compute("ns/s", s, []*corev1.Pod{p("a", 200)}); !got.IsZero() {
		t.Errorf("nothing new: %v, want zero", got)
	}
	if got := tt.Compute("ns/s", s, []*corev1.Pod{p("a", 300), p("b", 250)}); !got.Equal(time.Unix(250, 0)) {
		t.Errorf("two changes: %v, want the earlier (250)", got)
	}
	tt.Forget("ns/s")
	if got := tt.Compute("ns/s", s, nil); !got.Equal(created) {
		t.Errorf("after Forget: %v, want the creation again", got)
	}
}
