package core

import (
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

func init() { kinds.Add(secrets) }

func secrets(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Secret"), "secrets", "secret", true,
		func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} },
		printers.Secret())
	r.Default = func(obj runtime.Object) { defaults.Secret(obj.(*corev1.Secret)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateSecret(obj.(*corev1.Secret)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateSecretUpdate(obj.(*corev1.Secret), old.(*corev1.Secret))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
	}
	return r
}
