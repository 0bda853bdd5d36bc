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

func init() { kinds.Add(deployments) }

// deployments roll a template out through ReplicaSets. As upstream's
// strategy, metadata.generation moves with the spec and with the annotations
// too, since a Deployment copies its annotations to its ReplicaSets.
func deployments(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Deployment"), "deployments", "deployment", true,
		func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} },
		printers.Deployment())
	workload(r, "deploy", rules[*appsv1.Deployment]{
		defaults:             defaults.Deployment,
		validate:             validation.ValidateDeployment,
		validateUpdate:       validation.ValidateDeploymentUpdate,
		validateStatusUpdate: validation.ValidateDeploymentStatusUpdate,
		desired:              func(d *appsv1.Deployment) any { return []any{d.Spec, d.Annotations} },
	})
	// A status write cannot change a Deployment's labels (upstream's
	// deploymentStatusStrategy); other workloads' status writes may.
	r.PrepareForStatusUpdate = func(obj, old runtime.Object) {
		obj.(*appsv1.Deployment).Labels = old.(*appsv1.Deployment).Labels
	}
	return scalable(r, func(d *appsv1.Deployment) (*int32, int32, *metav1.LabelSelector) {
		return d.Spec.Replicas, d.Status.Replicas, d.Spec.Selector
	}, func(d *appsv1.Deployment, n int32) { d.Spec.Replicas = &n })
}
