package replication

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}}
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readyFor(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-d))})
	}
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", RestartCount: 1}, {Name: "b", RestartCount: n}}
	}
}
func age(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}
func cost(v string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: v} }
}

func TestPodsToDeleteOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
		n    int
		want string
	}{
		{"unscheduled first", []*corev1.Pod{mkPod("bound", on("a")), mkPod("free")}, 1, "free"},
		{"pending, unknown, running", []*corev1.Pod{
			mkPod("running", on("a"), phase(corev1.PodRunning)), mkPod("unknown", on("a"), phase(corev1.PodUnknown)), mkPod("pending", on("a")),
		}, 2, "pending,unknown"},
		{"not ready first", []*corev1.Pod{
			mkPod("ready", on("a"), phase(corev1.PodRunning), readyFor(time.Hour)), mkPod("notready", on("a"), phase(corev1.PodRunning)),
		}, 1, "notready"},
		{"lower deletion cost first", []*corev1.Pod{
			mkPod("expensive", on("a"), cost("100")), mkPod("cheap", on("a"), cost("-5")), mkPod("default", on("a")),
		}, 2, "cheap,default"},
		{"doubled-up node first", []*corev1.Pod{
			mkPod("alone", on("a"), age(time.Minute)), mkPod("crowd1", on("b"), age(2*time.Hour)), mkPod("crowd2", on("b"), age(4*time.Hour)),
		}, 1, "crowd1"},
		{"recently ready first", []*corev1.Pod{
			mkPod("old", on("a"), phase(corev1.PodRunning), readyFor(10*time.Hour)), mkPod("new", on("b"), phase(corev1.PodRunning), readyFor(time.Minute)),
		}, 1, "new"},
		{"more restarts first", []*corev1.Pod{
			mkPod("calm", on("a"), restarts(2)), mkPod("crashy", on("b"), restarts(9)),
		}, 1, "crashy"},
		{"newer first", []*corev1.Pod{
			mkPod("older", on("a"), age(3*time.Hour)), mkPod("newer", on("b"), age(time.Minute)),
		}, 1, "newer"},
		{"same log2 age: by UID", []*corev1.Pod{
			mkPod("b", on("a"), age(70*time.Minute)), mkPod("a", on("b"), age(65*time.Minute)),
		}, 1, "a"},
		{"all when asked for all", []*corev1.Pod{mkPod("x"), mkPod("y")}, 2, "x,y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := podsToDelete(tc.pods, nil, tc.n, t0)
			var s []string
			for _, p := range got {
				s = append(s, p.Name)
			}
			if strings.Join(s, ",") != tc.want {
				t.Errorf("deleted %v, want %s", s, tc.want)
			}
		})
	}
}

func TestSlowStartBatch(t *testing.T) {
	for _, tc := range []struct {
		count, failAt int // failAt: the call number that fails (0: none)
		wantDone      int
		wantCalls     int
	}{
		{count: 0, wantDone: 0, wantCalls: 0},
		{count: 10, wantDone: 10, wantCalls: 10},
		{count: 10, failAt: 1, wantDone: 0, wantCalls: 1}, // batch 1 fails: stop
		{count: 10, failAt: 3, wantDone: 2, wantCalls: 3}, // batch of 2 (calls 2,3) loses one
		{count: 10, failAt: 4, wantDone: 6, wantCalls: 7}, // batch of 4 (calls 4..7) loses one
		{count: 600, wantDone: 600, wantCalls: 600},
	} {
		t.Run(fmt.Sprint(tc.count, "/", tc.failAt), func(t *testing.T) {
			var calls atomic.Int32
			done, err := slowStartBatch(tc.count, 1, func() error {
				if me := calls.Add(1); int(me) == tc.failAt {
					return fmt.Errorf("call %d failed", me)
				}
				return nil
			})
			if done != tc.wantDone || int(calls.Load()) != tc.wantCalls || (err != nil) != (tc.failAt != 0) {
				t.Errorf("done %d, calls %d, err %v; want done %d, calls %d", done, calls.Load(), err, tc.wantDone, tc.wantCalls)
			}
		})
	}
}

func TestPodFromTemplate(t *testing.T) {
	n := int32(1)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "ns", UID: "rc-uid"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &n, Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}, Annotations: map[string]string{"a": "b"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}},
	}
	pod, err := podFromTemplate(rcSet{rc}, rcKind)
	if err != nil {
		t.Fatal(err)
	}
	ref := pod.OwnerReferences[0]
	if pod.GenerateName != "kubia-" || pod.Namespace != "ns" || pod.Labels["app"] != "kubia" || pod.Annotations["a"] != "b" ||
		ref.APIVersion != "v1" || ref.Kind != "ReplicationController" || ref.UID != "rc-uid" || !*ref.Controller || !*ref.BlockOwnerDeletion {
		t.Errorf("pod = %+v", pod.ObjectMeta)
	}
	pod.Labels["app"] = "changed"
	if rc.Spec.Template.Labels["app"] != "kubia" {
		t.Error("the pod shares the template's label map")
	}
	rc.Spec.Template.Labels = nil
	if _, err := podFromTemplate(rcSet{rc}, rcKind); err == nil || err.Error() != "unable to create pods, no labels" {
		t.Errorf("no labels: err %v", err)
	}
}
