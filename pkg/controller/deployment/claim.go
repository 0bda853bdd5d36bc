package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/owners"
)

// claimReplicaSets returns the ReplicaSets the Deployment controls after
// adopting orphans its selector matches and releasing those it controls that
// the selector no longer matches. A Deployment being deleted adopts and
// releases nothing.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	cl := claim.Claimer[*appsv1.ReplicaSet]{
		Owner: d,
		Kind:  deploymentKind,
		Wants: func(rs *appsv1.ReplicaSet) bool { return selector.Matches(labels.Set(rs.Labels)) },
		Get: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) error {
			patched, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				return fmt.Errorf("patching ownerReferences of replica set %s/%s: %w", rs.Namespace, rs.Name, err)
			}
			c.wroteReplicaSet(d, patched)
			return nil
		},
	}
	return cl.Claim(ctx, owners.ControlledBy[*appsv1.ReplicaSet](c.replicaSets, d), owners.Orphans[*appsv1.ReplicaSet](c.replicaSets, d.Namespace))
}
