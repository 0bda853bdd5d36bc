// Package apps declares the kinds of the apps API group, one file per kind:
// deployments, replica sets, daemon sets and stateful sets (each with its
// status subresource, and scale for all but daemon sets) and controller
// revisions. The controllers that act on them live in pkg/controller.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = appsv1.SchemeGroupVersion
)

// Resources returns every kind of the apps group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }

// rules are a workload's typed defaults and validation, and what of it is
// desired state: metadata.generation moves when that changes.
type rules[T runtime.Object] struct {
	defaults             func(T)
	validate             func(T) field.ErrorList
	validateUpdate       func(obj, old T) field.ErrorList
	validateStatusUpdate func(obj, old T) field.ErrorList
	desired              func(T) any
}

// workload fills what the four workloads share: they are in `kubectl get
// all`, have a status subresource whose writes leave the spec alone, start at
// generation 1, and are defaulted and validated by their rules.
func workload[T runtime.Object](r *apiserver.Resource, shortName string, rules rules[T]) *apiserver.Resource {
	r.ShortNames = []string{shortName}
	r.Categories = []string{"all"}
	r.Status = true
	r.Default = func(obj runtime.Object) { rules.defaults(obj.(T)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return rules.validate(obj.(T)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList { return rules.validateUpdate(obj.(T), old.(T)) }
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return rules.validateStatusUpdate(obj.(T), old.(T))
	}
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(rules.desired(obj.(T)), rules.desired(old.(T)))
	}
	return r
}

// scalable adds the scale subresource of a workload with a replica count, as
// autoscaling/v1 Scale: the label selector travels as a string, as upstream's.
func scalable[T runtime.Object](r *apiserver.Resource, get func(T) (spec *int32, status int32, selector *metav1.LabelSelector), set func(T, int32)) *apiserver.Resource {
	r.Subresources = []apiserver.Subresource{kind.ScaleSubresource()}
	r.Scale = &apiserver.ScaleAccess{
		Get: func(obj runtime.Object) (int32, int32, string) {
			spec, status, sel := get(obj.(T))
			selector := ""
			if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
				selector = s.String()
			}
			return ptr.Deref(spec, 1), status, selector
		},
		Set: func(obj runtime.Object, n int32) { set(obj.(T), n) },
	}
	return r
}
