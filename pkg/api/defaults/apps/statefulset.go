package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// StatefulSet defaults a stateful set: pods made in order, each ready before
// the next; the RollingUpdate strategy from partition 0, one pod unavailable
// at a time (upstream's MaxUnavailableStatefulSet, on by default since 1.37);
// claims retained when the set is deleted or scaled down; one replica; ten
// old revisions kept; the template's pod spec as any pod template's; and each
// claim template as a claim.
//
// As upstream, a RollingUpdate strategy given without its rollingUpdate block
// gets none: only a strategy left empty gets one made.
func StatefulSet(s *appsv1.StatefulSet) {
	spec := &s.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; ru != nil && spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if ru.Partition == nil {
			ru.Partition = ptr.To(int32(0))
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	replicas(&spec.Replicas)
	revisionHistoryLimit(&spec.RevisionHistoryLimit)
	defaults.PodSpec(&spec.Template.Spec)
	for i := range spec.VolumeClaimTemplates {
		defaults.PersistentVolumeClaim(&spec.VolumeClaimTemplates[i])
	}
}
