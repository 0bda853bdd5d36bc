package core

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(persistentVolumes) }

// persistentVolumes are pieces of storage, cluster-wide. A new one is Pending
// until a binder (which Skiff does not have yet) makes it Available; the
// status records when the phase last moved.
//
// As upstream's StorageObjectInUseProtection admission does, a new volume
// gets the kubernetes.io/pv-protection finalizer: deleting a volume that is
// Bound leaves it Terminating until controller/pvprotection releases it.
func persistentVolumes(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PersistentVolume"), "persistentvolumes", "persistentvolume", false,
		func() runtime.Object { return &corev1.PersistentVolume{} },
		func() runtime.Object { return &corev1.PersistentVolumeList{} },
		printers.PersistentVolume())
	r.ShortNames = []string{"pv"}
	r.Status = true
	r.PrepareForCreate = func(obj runtime.Object) {
		pv := obj.(*corev1.PersistentVolume)
		defaults.NewPersistentVolume(pv)
		pv.Status.Phase = corev1.VolumePending
		pv.Status.LastPhaseTransitionTime = phaseTransitionTime()
	}
	r.PrepareForStatusUpdate = func(obj, old runtime.Object) {
		stampPhaseTransition(&obj.(*corev1.PersistentVolume).Status, &old.(*corev1.PersistentVolume).Status)
	}
	r.Default = func(obj runtime.Object) { defaults.PersistentVolume(obj.(*corev1.PersistentVolume)) }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolume(obj.(*corev1.PersistentVolume))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolumeUpdate(obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolumeStatusUpdate(obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		// Upstream serves the bare "name" by mistake, and keeps it for compatibility.
		return fields.Set{"name": obj.(*corev1.PersistentVolume).Name}
	}
	return r
}

// stampPhaseTransition keeps lastPhaseTransitionTime when the phase stays,
// and sets it to now when the phase moves and the writer did not set a new one.
func stampPhaseTransition(status, old *corev1.PersistentVolumeStatus) {
	switch {
	case status.Phase == old.Phase && status.LastPhaseTransitionTime == nil:
		status.LastPhaseTransitionTime = old.LastPhaseTransitionTime
	case status.Phase != old.Phase && (status.LastPhaseTransitionTime == nil || status.LastPhaseTransitionTime.Equal(old.LastPhaseTransitionTime)):
		status.LastPhaseTransitionTime = phaseTransitionTime()
	}
}

// phaseTransitionTime is now, at the second precision it is stored with.
func phaseTransitionTime() *metav1.Time {
	now := metav1.Now().Rfc3339Copy()
	return &now
}
