package daemonset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/owners"
)

// claimPods returns the pods ds controls after adopting the orphans its
// selector matches and releasing its pods whose labels stopped matching.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*corev1.Pod, error) {
	cl := claim.Claimer[*corev1.Pod]{
		Owner: ds,
		Kind:  daemonSetKind,
		Wants: func(pod *corev1.Pod) bool { return selector.Matches(labels.Set(pod.Labels)) },
		Get:   c.live(ds),
		Patch: c.patchPod,
	}
	return cl.Claim(ctx, c.podsOf(ds), owners.Orphans[*corev1.Pod](c.pods, ds.Namespace))
}

// live reads ds from the API server, not the cache, for claim.CanAdopt.
func (c *Controller) live(ds *appsv1.DaemonSet) func(context.Context) (metav1.Object, error) {
	return func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	}
}
