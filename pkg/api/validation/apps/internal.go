package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Upstream validates its internal types, which have no JSON tags, so a
// refused strategy is printed with Go's field names and unset counts as 0:
// `spec.strategy: Unsupported value: {"Type":"Blue","RollingUpdate":null}`.
// These mirror the shapes of those types, for the bad value an error carries
// to read as kubectl shows it against a real cluster.

type internalDeploymentStrategy struct {
	Type          appsv1.DeploymentStrategyType
	RollingUpdate *internalRollingUpdate
}

type internalDaemonSetUpdateStrategy struct {
	Type          appsv1.DaemonSetUpdateStrategyType
	RollingUpdate *internalRollingUpdate
}

// internalRollingUpdate is the rolling update of a Deployment and of a
// DaemonSet, which upstream's internal types give the same two fields.
type internalRollingUpdate struct {
	MaxUnavailable intstr.IntOrString
	MaxSurge       intstr.IntOrString
}

type internalStatefulSetUpdateStrategy struct {
	Type          appsv1.StatefulSetUpdateStrategyType
	RollingUpdate *internalStatefulSetRollingUpdate
}

type internalStatefulSetRollingUpdate struct {
	Partition      int32
	MaxUnavailable *intstr.IntOrString
}

func deploymentStrategyAsUpstream(s *appsv1.DeploymentStrategy) internalDeploymentStrategy {
	out := internalDeploymentStrategy{Type: s.Type}
	if ru := s.RollingUpdate; ru != nil {
		out.RollingUpdate = &internalRollingUpdate{MaxUnavailable: intOrPercent(ru.MaxUnavailable), MaxSurge: intOrPercent(ru.MaxSurge)}
	}
	return out
}

func daemonSetStrategyAsUpstream(s *appsv1.DaemonSetUpdateStrategy) internalDaemonSetUpdateStrategy {
	out := internalDaemonSetUpdateStrategy{Type: s.Type}
	if ru := s.RollingUpdate; ru != nil {
		out.RollingUpdate = &internalRollingUpdate{MaxUnavailable: intOrPercent(ru.MaxUnavailable), MaxSurge: intOrPercent(ru.MaxSurge)}
	}
	return out
}

func statefulSetStrategyAsUpstream(s *appsv1.StatefulSetUpdateStrategy) internalStatefulSetUpdateStrategy {
	out := internalStatefulSetUpdateStrategy{Type: s.Type}
	if ru := s.RollingUpdate; ru != nil {
		out.RollingUpdate = statefulSetRollingUpdateAsUpstream(ru)
	}
	return out
}

func statefulSetRollingUpdateAsUpstream(ru *appsv1.RollingUpdateStatefulSetStrategy) *internalStatefulSetRollingUpdate {
	return &internalStatefulSetRollingUpdate{Partition: int32(int32Value(ru.Partition)), MaxUnavailable: ru.MaxUnavailable}
}
