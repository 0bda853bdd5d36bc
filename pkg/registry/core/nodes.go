package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(nodes) }

func nodes(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Node"), "nodes", "node", false,
		func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} },
		printers.Node())
	r.ShortNames = []string{"no"}
	r.Status = true
	r.KeepStatusOnCreate = true
	r.Subresources = []apiserver.Subresource{{Name: "proxy", Kind: v1.WithKind("NodeProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}}}
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateNode(obj.(*corev1.Node)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.Fields = func(obj runtime.Object) fields.Set {
		if obj.(*corev1.Node).Spec.Unschedulable {
			return fields.Set{"spec.unschedulable": "true"}
		}
		return fields.Set{"spec.unschedulable": "false"}
	}
	return r
}
