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

func init() { kinds.Add(replicaSets) }

// replicaSets keep a number of pods running from a template; any spec change
// moves metadata.generation. Upstream's strategy lists status.replicas among
// their fields, but apps/v1 registers no field label conversion, so only
// metadata.name and metadata.namespace can be selected on, as here.
func replicaSets(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ReplicaSet"), "replicasets", "replicaset", true,
		func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} },
		printers.ReplicaSet())
	workload(r, "rs", rules[*appsv1.ReplicaSet]{
		defaults:             defaults.ReplicaSet,
		validate:             validation.ValidateReplicaSet,
		validateUpdate:       validation.ValidateReplicaSetUpdate,
		validateStatusUpdate: validation.ValidateReplicaSetStatusUpdate,
		desired:              func(rs *appsv1.ReplicaSet) any { return rs.Spec },
	})
	return scalable(r, func(rs *appsv1.ReplicaSet) (*int32, int32, *metav1.LabelSelector) {
		return rs.Spec.Replicas, rs.Status.Replicas, rs.Spec.Selector
	}, func(rs *appsv1.ReplicaSet, n int32) { rs.Spec.Replicas = &n })
}
