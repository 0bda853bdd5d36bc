package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(podTemplates) }

// podTemplates are pod specs kept for others to stamp pods from. As upstream's
// strategy does, any change to the template moves metadata.generation.
func podTemplates(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PodTemplate"), "podtemplates", "podtemplate", true,
		func() runtime.Object { return &corev1.PodTemplate{} }, func() runtime.Object { return &corev1.PodTemplateList{} },
		printers.PodTemplate())
	r.Default = func(obj runtime.Object) { defaults.PodTemplate(obj.(*corev1.PodTemplate)) }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidatePodTemplate(obj.(*corev1.PodTemplate))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePodTemplateUpdate(obj.(*corev1.PodTemplate), old.(*corev1.PodTemplate))
	}
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*corev1.PodTemplate).Template, old.(*corev1.PodTemplate).Template)
	}
	return r
}
