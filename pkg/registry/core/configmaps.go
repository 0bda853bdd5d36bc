package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(configMaps) }

func configMaps(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ConfigMap"), "configmaps", "configmap", true,
		func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} },
		printers.ConfigMap())
	r.ShortNames = []string{"cm"}
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateConfigMap(obj.(*corev1.ConfigMap)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateConfigMapUpdate(obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
	}
	return r
}
