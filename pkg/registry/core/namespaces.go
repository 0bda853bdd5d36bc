package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(namespaces) }

func namespaces(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Namespace"), "namespaces", "namespace", false,
		func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} },
		printers.Namespace())
	r.ShortNames = []string{"ns"}
	r.Status = true
	r.Subresources = []apiserver.Subresource{{Name: "finalize", Kind: v1.WithKind("Namespace"), Verbs: []string{"update"}}}
	// The "kubernetes" finalizer is added on create only: adding it on every write
	// would undo the namespace controller's finalize.
	r.PrepareForCreate = func(obj runtime.Object) { defaults.NewNamespace(obj.(*corev1.Namespace)) }
	r.Default = func(obj runtime.Object) { defaults.Namespace(obj.(*corev1.Namespace)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateNamespace(obj.(*corev1.Namespace)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateNamespaceUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		// spec.finalizers change only through /finalize.
		obj.(*corev1.Namespace).Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
		return nil
	}
	r.MarkDeleting = func(obj runtime.Object) {
		obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
	}
	return r
}
