package statefulset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/owners"
)

// claimPods returns the pods the set controls after adopting the orphans that
// its selector matches and whose names make them its members, and releasing
// the pods it controls that no longer match. A set being deleted adopts and
// releases nothing.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	cl := claim.Claimer[*corev1.Pod]{
		Owner: set,
		Kind:  statefulSetKind,
		Wants: func(pod *corev1.Pod) bool { return selector.Matches(labels.Set(pod.Labels)) && isMember(set, pod) },
		Get:   c.live(set),
		Patch: c.patchPod,
	}
	return cl.Claim(ctx, owners.ControlledBy[*corev1.Pod](c.podsIdx, set), owners.Orphans[*corev1.Pod](c.podsIdx, set.Namespace))
}

// live reads the set from the API server, not the cache, for claim.CanAdopt.
func (c *Controller) live(set *appsv1.StatefulSet) func(context.Context) (metav1.Object, error) {
	return func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	}
}
