package defaults

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Namespace defaults a namespace on every write: phase Active when unset, and the
// immutable "kubernetes.io/metadata.name" label that lets selectors pick a
// namespace by name.
func Namespace(n *corev1.Namespace) {
	if n.Name != "" {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[corev1.LabelMetadataName] = n.Name
	}
	if n.Status.Phase == "" {
		n.Status.Phase = corev1.NamespaceActive
	}
}

// NewNamespace defaults a namespace being created: Namespace, a fresh Active
// status, and the "kubernetes" finalizer that holds deletion until the namespace
// controller has emptied it. It must not run on updates: the finalizer is
// removed through the finalize subresource and must stay removed.
func NewNamespace(n *corev1.Namespace) {
	n.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if !slices.Contains(n.Spec.Finalizers, corev1.FinalizerKubernetes) {
		n.Spec.Finalizers = append(n.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	Namespace(n)
}
