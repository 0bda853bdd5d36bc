package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestEvictionTime(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	added := metav1.NewTime(now.Add(-10 * time.Second))
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	custom := corev1.Taint{Key: "example.com/dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	tol := func(key string, op corev1.TolerationOperator, value string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: op, Value: value, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		taints      []corev1.Taint
		evict       bool
		at          time.Time
	}{
		{"not tolerated: at once", nil, []corev1.Taint{unreachable}, true, now},
		{"tolerated forever", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", nil)}, []corev1.Taint{unreachable}, false, time.Time{}},
		{"tolerated for 300s from timeAdded",
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", ptr.To[int64](300))},
			[]corev1.Taint{unreachable}, true, added.Add(300 * time.Second)},
		{"the first matching toleration counts",
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", ptr.To[int64](2)), tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", ptr.To[int64](300))},
			[]corev1.Taint{unreachable}, true, added.Add(2 * time.Second)},
		{"the earliest taint deadline wins",
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", ptr.To[int64](300)), tol(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "", ptr.To[int64](30))},
			[]corev1.Taint{unreachable, notReady}, true, added.Add(30 * time.Second)},
		{"one taint not tolerated",
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", nil)},
			[]corev1.Taint{unreachable, notReady}, true, now},
		{"negative seconds mean now", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", ptr.To[int64](-5))},
			[]corev1.Taint{unreachable}, true, added.Time},
		{"Equal compares values", []corev1.Toleration{tol("example.com/dedicated", corev1.TolerationOpEqual, "web", nil)},
			[]corev1.Taint{custom}, true, now},
		{"Equal with the value", []corev1.Toleration{tol("example.com/dedicated", "", "db", nil)},
			[]corev1.Taint{custom}, false, time.Time{}},
		{"empty key Exists tolerates everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			[]corev1.Taint{custom, unreachable}, false, time.Time{}},
		{"a NoSchedule toleration does not help",
			[]corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			[]corev1.Taint{unreachable}, true, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, evict := evictionTime(tt.tolerations, tt.taints, now)
			if evict != tt.evict || (evict && !at.Equal(tt.at)) {
				t.Errorf("got (%v, %v), want (%v, %v)", at, evict, tt.at, tt.evict)
			}
		})
	}
}

func TestConditionTaintsAndMerge(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	earlier := metav1.NewTime(now.Add(-time.Minute))
	node := &corev1.Node{
		Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
			{Key: "example.com/mine", Effect: corev1.TaintEffectNoExecute},
			{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
			{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
		}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionUnknown},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
		}},
	}
	got, changed := mergeTaints(node.Spec.Taints, conditionTaints(node), now)
	if !changed {
		t.Fatal("no change reported")
	}
	want := []corev1.Taint{
		{Key: "example.com/mine", Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &now},
		{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &now},
		{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &now},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i].Key != want[i].Key || got[i].Effect != want[i].Effect || !got[i].TimeAdded.Equal(want[i].TimeAdded) {
			t.Fatalf("taint %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if _, changed := mergeTaints(got, conditionTaints(node), now); changed {
		t.Fatal("a second merge changed something")
	}
}

func TestMarkUnknown(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	beat := metav1.NewTime(now.Add(-time.Minute))
	created := metav1.NewTime(now.Add(-time.Hour))
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: beat, LastTransitionTime: beat},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: beat},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: beat},
		}},
	}
	out, changed := markUnknown(node, now)
	if !changed {
		t.Fatal("nothing changed")
	}
	ready := condition(out, corev1.NodeReady)
	if ready.Status != corev1.ConditionUnknown || ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." ||
		!ready.LastHeartbeatTime.Equal(&beat) || !ready.LastTransitionTime.Equal(&now) {
		t.Errorf("ready: %+v", ready)
	}
	pid := condition(out, corev1.NodePIDPressure)
	if pid == nil || pid.Status != corev1.ConditionUnknown || pid.Reason != "NodeStatusNeverUpdated" || !pid.LastHeartbeatTime.Equal(&created) {
		t.Errorf("PIDPressure: %+v", pid)
	}
	if condition(node, corev1.NodeReady).Status != corev1.ConditionTrue {
		t.Error("the input was modified")
	}
	if _, changed := markUnknown(out, now); changed {
		t.Error("marking an unknown node again changed it")
	}
}
