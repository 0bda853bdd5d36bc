package deployment

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestCalculateStatus(t *testing.T) {
	c := &Controller{clock: testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	rolling := func(n int32) *appsv1.Deployment {
		quarter := intstr.FromString("25%")
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(n),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &quarter, MaxUnavailable: &quarter},
			},
		}}
		d.Generation = 7
		d.Status.CollisionCount = ptr.To[int32](2)
		return d
	}
	rs := func(size int32, st appsv1.ReplicaSetStatus) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(size)}, Status: st}
	}
	recreate := rolling(3)
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}

	for _, tc := range []struct {
		name          string
		d             *appsv1.Deployment
		old           []*appsv1.ReplicaSet
		new           *appsv1.ReplicaSet
		want          appsv1.DeploymentStatus
		wantAvailable corev1.ConditionStatus
	}{{
		name: "mid-rollout counts",
		d:    rolling(5),
		old:  []*appsv1.ReplicaSet{rs(2, appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, TerminatingReplicas: ptr.To[int32](1), ObservedGeneration: 3})},
		new:  rs(4, appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 1, TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: 1}),
		want: appsv1.DeploymentStatus{
			ObservedGeneration: 7, Replicas: 6, UpdatedReplicas: 3, ReadyReplicas: 5, AvailableReplicas: 3,
			UnavailableReplicas: 3, TerminatingReplicas: ptr.To[int32](1), CollisionCount: ptr.To[int32](2),
		},
		// 3 available < 5 - 1 (25% of 5 rounded down)
		wantAvailable: corev1.ConditionFalse,
	}, {
		name: "more available than asked for while scaling down: none unavailable",
		d:    rolling(2),
		new:  rs(2, appsv1.ReplicaSetStatus{Replicas: 4, ReadyReplicas: 4, AvailableReplicas: 4, TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: 2}),
		want: appsv1.DeploymentStatus{
			ObservedGeneration: 7, Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 4,
			TerminatingReplicas: ptr.To[int32](0), CollisionCount: ptr.To[int32](2),
		},
		wantAvailable: corev1.ConditionTrue,
	}, {
		name: "terminating unknown while a synced ReplicaSet does not report it",
		d:    rolling(1),
		old:  []*appsv1.ReplicaSet{rs(0, appsv1.ReplicaSetStatus{ObservedGeneration: 4})},
		new:  rs(1, appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: 1}),
		want: appsv1.DeploymentStatus{
			ObservedGeneration: 7, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			CollisionCount: ptr.To[int32](2),
		},
		wantAvailable: corev1.ConditionTrue,
	}, {
		name: "a ReplicaSet never synced counts no terminating pods",
		d:    rolling(2),
		new:  rs(2, appsv1.ReplicaSetStatus{}),
		want: appsv1.DeploymentStatus{
			ObservedGeneration: 7, UnavailableReplicas: 2, TerminatingReplicas: ptr.To[int32](0), CollisionCount: ptr.To[int32](2),
		},
		wantAvailable: corev1.ConditionFalse,
	}, {
		name: "Recreate allows none unavailable",
		d:    recreate,
		new:  rs(3, appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: 1}),
		want: appsv1.DeploymentStatus{
			ObservedGeneration: 7, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2,
			UnavailableReplicas: 1, TerminatingReplicas: ptr.To[int32](0), CollisionCount: ptr.To[int32](2),
		},
		wantAvailable: corev1.ConditionFalse,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.calculateStatus(tc.d, withNew(tc.old, tc.new), tc.new)
			cond := getCondition(got, appsv1.DeploymentAvailable)
			got.Conditions = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("status = %+v\nwant     %+v", got, tc.want)
			}
			if cond == nil || cond.Status != tc.wantAvailable {
				t.Errorf("Available condition = %+v, want status %s", cond, tc.wantAvailable)
			}
		})
	}
}
