package clusterdns

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// endpointsFor is the kube-dns Service's v1 Endpoints, saying what the slice
// says, as upstream's endpoints controller keeps one beside the slices:
// `kubectl get endpoints kube-dns -n kube-system`, the first step of
// upstream's DNS debugging guide, and `kubectl describe` of older clients
// read it. It is labelled so the mirroring controller leaves it be.
func endpointsFor(s *discoveryv1.EndpointSlice) *corev1.Endpoints {
	e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: ServiceName, Namespace: Namespace,
		Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"},
	}}
	var sub corev1.EndpointSubset
	for _, ep := range s.Endpoints {
		a := corev1.EndpointAddress{IP: ep.Addresses[0], NodeName: ep.NodeName}
		if ptr.Deref(ep.Conditions.Ready, false) {
			sub.Addresses = append(sub.Addresses, a)
		} else {
			sub.NotReadyAddresses = append(sub.NotReadyAddresses, a)
		}
	}
	if len(sub.Addresses)+len(sub.NotReadyAddresses) == 0 {
		return e
	}
	for _, p := range s.Ports {
		sub.Ports = append(sub.Ports, corev1.EndpointPort{Name: ptr.Deref(p.Name, ""), Port: ptr.Deref(p.Port, 0), Protocol: ptr.Deref(p.Protocol, corev1.ProtocolTCP)})
	}
	e.Subsets = []corev1.EndpointSubset{sub}
	return e
}

// syncEndpoints makes the Endpoints say what w, the wanted slice, says.
func (c *Controller) syncEndpoints(ctx context.Context, w *discoveryv1.EndpointSlice) error {
	want := endpointsFor(w)
	cur, err := c.endpoints.Endpoints(Namespace).Get(ServiceName)
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.client.CoreV1().Endpoints(Namespace).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // the informer will show it, and bring us back
		}
		return err
	case err != nil:
		return err
	case cur.Labels[discoveryv1.LabelSkipMirror] == "true" && apiequality.Semantic.DeepEqual(cur.Subsets, want.Subsets):
		return nil
	}
	next := cur.DeepCopy()
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	maps.Copy(next.Labels, want.Labels)
	next.Subsets = want.Subsets
	_, err = c.client.CoreV1().Endpoints(Namespace).Update(ctx, next, metav1.UpdateOptions{})
	return err
}
