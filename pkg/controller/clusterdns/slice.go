package clusterdns

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// What the node agent, the server's bootstrap and this controller agree on.
const (
	// NodeAnnotation on a Node is the address its DNS server answers at
	// (port 53, UDP and TCP), set by the node agent once the server serves.
	NodeAnnotation = "skiff.io/cluster-dns"
	// Namespace and ServiceName name the Service pods resolve through, as
	// upstream's cluster DNS add-on names it.
	Namespace   = metav1.NamespaceSystem
	ServiceName = "kube-dns"
	// SliceName is the one EndpointSlice this controller keeps.
	SliceName = "kube-dns-nodes"
	// ControllerName is the endpointslice.kubernetes.io/managed-by value of
	// that slice, in the form of upstream's (a label value has no "/").
	ControllerName = "cluster-dns.skiff.io"
	// MaxEndpoints is the most endpoints one EndpointSlice may hold.
	MaxEndpoints = 1000
	// The ports, named as upstream's add-on names them.
	PortName    = "dns"
	TCPPortName = "dns-tcp"
	Port        = 53
)

// Service is the kube-dns Service with clusterIP ip, as upstream's add-on
// defines it, less the selector: its endpoints are the nodes' DNS servers,
// which this controller lists, and each pod asks the one on its own node.
func Service(ip string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: Namespace, Labels: map[string]string{
			"k8s-app":                       ServiceName,
			"kubernetes.io/cluster-service": "true",
			"kubernetes.io/name":            "KubeDNS",
		}},
		Spec: corev1.ServiceSpec{
			ClusterIP: ip,
			Ports: []corev1.ServicePort{
				{Name: PortName, Port: Port, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(Port)},
				{Name: TCPPortName, Port: Port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(Port)},
			},
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal),
		},
	}
}

// desired is what the slice should say, and what it had to leave out.
type desired struct {
	slice *discoveryv1.EndpointSlice
	// invalid names the annotated nodes whose annotation is no IPv4 address.
	invalid []string
	// annotated counts the nodes with a valid annotation, over the cap or not.
	annotated int
}

// want is the EndpointSlice listing the DNS servers the nodes announce, at
// most max of them, the first by node name.
func want(nodes []*corev1.Node, max int) desired {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	d := desired{slice: &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: SliceName, Namespace: Namespace, Labels: sliceLabels()},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To(PortName), Port: ptr.To[int32](Port), Protocol: ptr.To(corev1.ProtocolUDP)},
			{Name: ptr.To(TCPPortName), Port: ptr.To[int32](Port), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
	}}
	for _, n := range nodes {
		v, ok := n.Annotations[NodeAnnotation]
		if !ok {
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil || !ip.Is4() {
			d.invalid = append(d.invalid, n.Name)
			continue
		}
		d.annotated++
		if len(d.slice.Endpoints) == max {
			continue
		}
		ready := nodeReady(n)
		ep := discoveryv1.Endpoint{
			Addresses: []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false),
			},
			NodeName: ptr.To(n.Name),
		}
		if zone, ok := n.Labels[corev1.LabelTopologyZone]; ok && zone != "" {
			ep.Zone = ptr.To(zone)
		}
		d.slice.Endpoints = append(d.slice.Endpoints, ep)
	}
	return d
}

func sliceLabels() map[string]string {
	return map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: ControllerName}
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sync makes the slice say what the nodes announce.
func (c *Controller) sync(ctx context.Context, _ string) error {
	cur, err := c.slices.EndpointSlices(Namespace).Get(SliceName)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var cached []metav1.Object
	if cur != nil {
		cached = append(cached, cur)
	}
	if c.writes.Stale(key, cached) {
		return workers.After(staleRetry, errStale)
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	d := want(nodes, c.opts.MaxEndpoints)
	if err := c.syncEndpoints(ctx, d.slice); err != nil {
		return err
	}
	w := c.writer()
	switch {
	case cur == nil:
		c.report(d)
		return w.Apply(ctx, key, fmt.Sprintf("Service %s/%s", Namespace, ServiceName), false, []*discoveryv1.EndpointSlice{d.slice}, nil, nil)
	case cur.DeletionTimestamp != nil:
		return nil // its delete event brings us back to create the next one
	case cur.AddressType != d.slice.AddressType:
		// The address type is immutable: replace the slice.
		return w.DeleteAll(ctx, key, []*discoveryv1.EndpointSlice{cur})
	case upToDate(cur, d.slice):
		return nil
	}
	c.report(d)
	next := cur.DeepCopy()
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	maps.Copy(next.Labels, d.slice.Labels)
	next.Endpoints, next.Ports = d.slice.Endpoints, d.slice.Ports
	return w.Apply(ctx, key, fmt.Sprintf("Service %s/%s", Namespace, ServiceName), false, nil, []*discoveryv1.EndpointSlice{next}, nil)
}

// upToDate reports whether the slice s already says what w does; labels
// others added are theirs to keep.
func upToDate(s, w *discoveryv1.EndpointSlice) bool {
	for k, v := range w.Labels {
		if s.Labels[k] != v {
			return false
		}
	}
	return apiequality.Semantic.DeepEqual(s.Endpoints, w.Endpoints) && apiequality.Semantic.DeepEqual(s.Ports, w.Ports)
}

// report logs, when the slice is about to change, what it leaves out.
func (c *Controller) report(d desired) {
	if len(d.invalid) > 0 {
		c.log.Warn("nodes announce a cluster DNS server that is no IPv4 address; left out", "annotation", NodeAnnotation, "nodes", d.invalid)
	}
	if d.annotated > c.opts.MaxEndpoints && d.annotated != c.capped {
		c.log.Warn("more nodes announce a cluster DNS server than one EndpointSlice holds; the first by name are listed",
			"nodes", d.annotated, "listed", c.opts.MaxEndpoints)
	}
	c.capped = d.annotated
}

func (c *Controller) writer() backends.SliceWriter {
	return backends.SliceWriter{Client: c.client, Writes: c.writes}
}
