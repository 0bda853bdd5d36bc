package kind

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// Hooks are a kind's defaulting and validation written for its Go type T (a
// pointer type); Install sets those given on a Resource, so that a kind's
// file does not convert runtime.Objects itself.
type Hooks[T runtime.Object] struct {
	Default              func(T)
	Validate             func(T) field.ErrorList
	ValidateUpdate       func(obj, old T) field.ErrorList
	ValidateStatusUpdate func(obj, old T) field.ErrorList
	// Desired, when set, is what metadata.generation counts changes of
	// (usually the spec).
	Desired func(T) any
}

// Install sets the hooks given on r.
func (h Hooks[T]) Install(r *apiserver.Resource) {
	if h.Default != nil {
		r.Default = func(obj runtime.Object) { h.Default(obj.(T)) }
	}
	if h.Validate != nil {
		r.Validate = func(obj runtime.Object) field.ErrorList { return h.Validate(obj.(T)) }
	}
	if h.ValidateUpdate != nil {
		r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList { return h.ValidateUpdate(obj.(T), old.(T)) }
	}
	if h.ValidateStatusUpdate != nil {
		r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return h.ValidateStatusUpdate(obj.(T), old.(T)) }
	}
	if h.Desired != nil {
		r.SpecChanged = func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(h.Desired(obj.(T)), h.Desired(old.(T)))
		}
	}
}

// KeepMetadataOnStatus is a PrepareForStatusUpdate for kinds whose status
// writers (controllers, drivers) may not change the metadata users own:
// labels, annotations, finalizers and owner references stay as stored, as
// upstream's ResetObjectMetaForStatus keeps them.
func KeepMetadataOnStatus(obj, old runtime.Object) {
	n, errN := meta.Accessor(obj)
	o, errO := meta.Accessor(old)
	if errN == nil && errO == nil {
		metav1.ResetObjectMetaForStatus(n, o)
	}
}
