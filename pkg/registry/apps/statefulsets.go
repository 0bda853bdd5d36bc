package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/apps"
	printers "github.com/skiffhq/skiff/pkg/api/printers/apps"
	validation "github.com/skiffhq/skiff/pkg/api/validation/apps"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(statefulSets) }

// statefulSets run pods with stable names and volumes; any spec change moves
// metadata.generation.
func statefulSets(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("StatefulSet"), "statefulsets", "statefulset", true,
		func() runtime.Object { return &appsv1.StatefulSet{} }, func() runtime.Object { return &appsv1.StatefulSetList{} },
		printers.StatefulSet())
	workload(r, "sts", rules[*appsv1.StatefulSet]{
		defaults:             defaults.StatefulSet,
		validate:             validation.ValidateStatefulSet,
		validateUpdate:       validation.ValidateStatefulSetUpdate,
		validateStatusUpdate: validation.ValidateStatefulSetStatusUpdate,
		desired:              func(s *appsv1.StatefulSet) any { return s.Spec },
	})
	return scalable(r, func(s *appsv1.StatefulSet) (*int32, int32, *metav1.LabelSelector) {
		return s.Spec.Replicas, s.Status.Replicas, s.Spec.Selector
	}, func(s *appsv1.StatefulSet, n int32) { s.Spec.Replicas = &n })
}
