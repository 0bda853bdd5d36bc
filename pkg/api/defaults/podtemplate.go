package defaults

import corev1 "k8s.io/api/core/v1"

// PodTemplate defaults a PodTemplate object's pod spec as any pod template's
// (PodSpec); the pod-only defaults and admission mutations wait for the pods
// made from it.
func PodTemplate(t *corev1.PodTemplate) {
	PodSpec(&t.Template.Spec)
}
