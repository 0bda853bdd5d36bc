package defaults

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// ReplicationController defaults a replication controller: one replica, the
// selector and the controller's own labels taken from the template's labels when
// empty, and the template's pod spec defaulted like any pod template. The pod-only
// defaults and admission mutations (tolerations, service account, priority) are
// applied to the pods the controller creates, not to the template.
func ReplicationController(rc *corev1.ReplicationController) {
	if t := rc.Spec.Template; t != nil && t.Labels != nil {
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = maps.Clone(t.Labels)
		}
		if len(rc.Labels) == 0 {
			rc.Labels = maps.Clone(t.Labels)
		}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = ptr.To(int32(1))
	}
	if rc.Spec.Template != nil {
		PodSpec(&rc.Spec.Template.Spec)
	}
}
