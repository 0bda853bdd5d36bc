package replication

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/controller/claim"
)

// claimPods returns the pods the set controls after adopting matching orphans
// and releasing owned pods whose labels no longer match.
func (c *Controller) claimPods(ctx context.Context, s set, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	m := s.meta()
	cl := claim.Claimer[*corev1.Pod]{
		Owner: m,
		Kind:  c.info.gvk,
		Wants: func(pod *corev1.Pod) bool { return selector.Matches(labels.Set(pod.Labels)) },
		Get: func(ctx context.Context) (metav1.Object, error) {
			fresh, err := c.kind.fetch(ctx, m.Namespace, m.Name)
			if err != nil {
				return nil, err
			}
			return fresh.meta(), nil
		},
		Patch: c.patchPod,
	}
	return cl.Claim(ctx, pods)
}
