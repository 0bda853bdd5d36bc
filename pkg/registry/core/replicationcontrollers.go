package core

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(replicationControllers) }

func replicationControllers(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ReplicationController"), "replicationcontrollers", "replicationcontroller", true,
		func() runtime.Object { return &corev1.ReplicationController{} },
		func() runtime.Object { return &corev1.ReplicationControllerList{} },
		printers.ReplicationController())
	r.ShortNames = []string{"rc"}
	r.Categories = []string{"all"}
	r.Status = true
	r.Subresources = []apiserver.Subresource{kind.ScaleSubresource()}
	r.Default = func(obj runtime.Object) { defaults.ReplicationController(obj.(*corev1.ReplicationController)) }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateReplicationController(obj.(*corev1.ReplicationController))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateReplicationControllerUpdate(obj.(*corev1.ReplicationController), old.(*corev1.ReplicationController))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*corev1.ReplicationController).Spec, old.(*corev1.ReplicationController).Spec)
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*corev1.ReplicationController).Status.Replicas))}
	}
	r.Scale = &apiserver.ScaleAccess{
		Get: func(obj runtime.Object) (int32, int32, string) {
			rc := obj.(*corev1.ReplicationController)
			spec := int32(1)
			if rc.Spec.Replicas != nil {
				spec = *rc.Spec.Replicas
			}
			return spec, rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
		},
		Set: func(obj runtime.Object, n int32) {
			obj.(*corev1.ReplicationController).Spec.Replicas = &n
		},
	}
	return r
}
