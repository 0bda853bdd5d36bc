package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(limitRanges) }

// limitRanges bound and default the resources of a namespace's pods; pod
// admission (limitrange_admission.go) applies them. Upstream prints no columns
// of its own for them, and, as its strategy, lets PUT create one and validates
// an update as a new object.
func limitRanges(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("LimitRange"), "limitranges", "limitrange", true,
		func() runtime.Object { return &corev1.LimitRange{} }, func() runtime.Object { return &corev1.LimitRangeList{} },
		printers.Default())
	r.ShortNames = []string{"limits"}
	r.AllowCreateOnUpdate = true
	r.Default = func(obj runtime.Object) { defaults.LimitRange(obj.(*corev1.LimitRange)) }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateLimitRange(obj.(*corev1.LimitRange))
	}
	r.ValidateUpdate = func(obj, _ runtime.Object) field.ErrorList {
		return validation.ValidateLimitRange(obj.(*corev1.LimitRange))
	}
	return r
}
