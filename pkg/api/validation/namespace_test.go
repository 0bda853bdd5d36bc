package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

func newNamespace(name string) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	defaults.NewNamespace(n)
	return n
}

func TestValidateNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		ns   *corev1.Namespace
		want []e
	}{
		{"valid", newNamespace("team-a"), nil},
		{"starts with a digit", newNamespace("1team"), nil},
		{"dots", newNamespace("team.a"), []e{invalid("metadata.name", "must not contain dots")}},
		{"uppercase", newNamespace("Team"), []e{invalid("metadata.name", "RFC 1123 label")}},
		{"too long", newNamespace("a234567890123456789012345678901234567890123456789012345678901234"),
			// The defaulted name label is too long as well.
			[]e{invalid("metadata.name", "must be no more than 63 characters"), invalid("metadata.labels", "must be no more than 63 bytes")}},
		{"has a namespace", func() *corev1.Namespace {
			n := newNamespace("team-a")
			n.Namespace = "default"
			return n
		}(), []e{forbidden("metadata.namespace", "not allowed on this type")}},
		{"spec finalizer", func() *corev1.Namespace {
			n := newNamespace("team-a")
			n.Spec.Finalizers = append(n.Spec.Finalizers, "cleanup")
			return n
		}(), []e{invalid("spec.finalizers", "name is neither a standard finalizer name nor is it fully qualified")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateNamespace(tc.ns), tc.want...) })
	}
}

func TestValidateNamespaceUpdates(t *testing.T) {
	old := newNamespace("team-a")
	old.ObjectMeta = stored(old.ObjectMeta)

	relabelled := old.DeepCopy()
	relabelled.Labels["env"] = "prod"
	expectErrs(t, ValidateNamespaceUpdate(relabelled, old))

	renamed := old.DeepCopy()
	renamed.Name = "team-b"
	expectErrs(t, ValidateNamespaceUpdate(renamed, old), invalid("metadata.name", "field is immutable"))

	// Status: the phase follows the deletion timestamp.
	terminating := old.DeepCopy()
	expectErrs(t, ValidateNamespaceStatusUpdate(terminating, old))
	terminating.Status.Phase = corev1.NamespaceTerminating
	expectErrs(t, ValidateNamespaceStatusUpdate(terminating, old), invalid("status.Phase", "may only be 'Active' if `deletionTimestamp` is empty"))
	deleting := old.DeepCopy()
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	oldDeleting := deleting.DeepCopy()
	expectErrs(t, ValidateNamespaceStatusUpdate(deleting, oldDeleting), invalid("status.Phase", "may only be 'Terminating' if `deletionTimestamp` is not empty"))

	// Finalize: the namespace controller removes "kubernetes".
	finalized := deleting.DeepCopy()
	finalized.Spec.Finalizers = nil
	expectErrs(t, ValidateNamespaceFinalizeUpdate(finalized, oldDeleting))
	finalized.Spec.Finalizers = []corev1.FinalizerName{"kubernetes", "bad"}
	expectErrs(t, ValidateNamespaceFinalizeUpdate(finalized, oldDeleting), invalid("spec.finalizers[1]", "neither a standard finalizer"))
}
