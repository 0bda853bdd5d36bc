package scheduling

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	printers "github.com/skiffhq/skiff/pkg/api/printers/scheduling"
	validation "github.com/skiffhq/skiff/pkg/api/validation/scheduling"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(priorityClasses) }

func priorityClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PriorityClass"), "priorityclasses", "priorityclass", false,
		func() runtime.Object { return &schedulingv1.PriorityClass{} }, func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		printers.PriorityClass())
	r.ShortNames = []string{"pc"}
	// Upstream's v1 defaulting.
	r.Default = func(obj runtime.Object) {
		if pc := obj.(*schedulingv1.PriorityClass); pc.PreemptionPolicy == nil {
			pc.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
		}
	}
	// Upstream's strategy sets generation 1 at creation and never moves it.
	r.SpecChanged = func(_, _ runtime.Object) bool { return false }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidatePriorityClass(obj.(*schedulingv1.PriorityClass))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePriorityClassUpdate(obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass))
	}
	// Serialized, so that two classes cannot both become the default at once.
	r.Allocates = true
	r.BeforeCreate = func(_ context.Context, v apiserver.View, obj runtime.Object) error {
		return admitDefault(v, obj.(*schedulingv1.PriorityClass))
	}
	r.PrepareForUpdate = func(_ context.Context, v apiserver.View, obj, _ runtime.Object) error {
		return admitDefault(v, obj.(*schedulingv1.PriorityClass))
	}
	return r
}

// admitDefault is upstream's Priority admission for PriorityClasses: only one
// class may be the global default.
func admitDefault(v apiserver.View, pc *schedulingv1.PriorityClass) error {
	if !pc.GlobalDefault {
		return nil
	}
	for _, obj := range v.List(v1.String(), "priorityclasses") {
		if other, ok := obj.(*schedulingv1.PriorityClass); ok && other.GlobalDefault && other.Name != pc.Name {
			return apierrors.NewForbidden(v1.WithResource("priorityclasses").GroupResource(), pc.Name,
				fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", other.Name))
		}
	}
	return nil
}
