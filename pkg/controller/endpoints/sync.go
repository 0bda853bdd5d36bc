package endpoints

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
)

// overCapacity is the annotation value upstream sets on truncated Endpoints.
const overCapacity = "truncated"

// sync makes the Endpoints named key match its Service's pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not ours: drop it
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteEndpoints(ctx, key, ns, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || !backends.HasSelector(svc) {
		return nil // no endpoints from pods: the user's, if any
	}
	pods, err := c.pods.Pods(ns).List(backends.SelectorOf(svc))
	if err != nil {
		return err
	}
	// Computed on every sync, even one that writes nothing, so the next
	// write names only changes it is the first to carry.
	trigger := c.triggers.Compute(key, svc, pods)

	cur, err := c.endpoints.Endpoints(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		cur = nil
	case err != nil:
		return err
	}
	var cached []metav1.Object
	if cur != nil {
		cached = append(cached, cur)
	}
	if c.writes.Stale(key, cached) {
		return errStale
	}

	subsets, truncated := truncate(buildSubsets(svc, pods))
	wantLabels := endpointsLabels(svc)
	if cur != nil &&
		apiequality.Semantic.DeepEqual(cur.Subsets, subsets) &&
		maps.Equal(cur.Labels, wantLabels) &&
		(cur.Annotations[corev1.EndpointsOverCapacity] == overCapacity) == truncated {
		return nil
	}

	next := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if cur != nil {
		next = cur.DeepCopy()
	}
	next.Subsets = subsets
	next.Labels = wantLabels
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(next.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		next.Annotations[corev1.EndpointsLastChangeTriggerTime] = backends.FormatTriggerTime(trigger)
	}
	if truncated {
		next.Annotations[corev1.EndpointsOverCapacity] = overCapacity
	} else {
		delete(next.Annotations, corev1.EndpointsOverCapacity)
	}

	var written *corev1.Endpoints
	if cur == nil {
		written, err = c.client.CoreV1().Endpoints(ns).Create(ctx, next, metav1.CreateOptions{})
	} else {
		written, err = c.client.CoreV1().Endpoints(ns).Update(ctx, next, metav1.UpdateOptions{})
	}
	if err != nil {
		if cur == nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // creates keep failing until the namespace is gone
		}
		if ctx.Err() != nil {
			return err
		}
		if cur == nil {
			c.recorder.Eventf(next, corev1.EventTypeWarning, "FailedToCreateEndpoint",
				"Failed to create endpoint for service %v/%v: %v", ns, name, err)
		} else {
			c.recorder.Eventf(next, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
				"Failed to update endpoint %v/%v: %v", ns, name, err)
		}
		return fmt.Errorf("endpoints %q in namespace %q: %w", name, ns, err)
	}
	c.writes.Wrote(key, written)
	return nil
}

// deleteEndpoints removes the Endpoints of a Service that is gone.
func (c *Controller) deleteEndpoints(ctx context.Context, key, ns, name string) error {
	c.triggers.Forget(key)
	c.writes.Forget(key)
	err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting endpoints %q in namespace %q: %w", name, ns, err)
	}
	return nil
}

// endpointsLabels are the Service's labels, the managed-by mark, and the
// headless mark for a Service without a ClusterIP.
func endpointsLabels(svc *corev1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+2)
	maps.Copy(out, svc.Labels)
	out[LabelManagedBy] = ControllerName
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		out[corev1.IsHeadlessService] = ""
	} else {
		delete(out, corev1.IsHeadlessService)
	}
	return out
}
