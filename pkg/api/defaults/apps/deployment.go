package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// Deployment defaults a deployment as apps/v1 does: one replica, the
// RollingUpdate strategy with 25% unavailable and 25% surge, ten old
// ReplicaSets kept, a 600-second progress deadline, and the template's pod
// spec as any pod template's.
func Deployment(d *appsv1.Deployment) {
	spec := &d.Spec
	replicas(&spec.Replicas)
	s := &spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		}
	}
	revisionHistoryLimit(&spec.RevisionHistoryLimit)
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptr.To(int32(600))
	}
	defaults.PodSpec(&spec.Template.Spec)
}

// replicas defaults a workload's replica count to one.
func replicas(n **int32) {
	if *n == nil {
		*n = ptr.To(int32(1))
	}
}

// revisionHistoryLimit defaults how many old revisions a workload keeps to ten.
func revisionHistoryLimit(n **int32) {
	if *n == nil {
		*n = ptr.To(int32(10))
	}
}
