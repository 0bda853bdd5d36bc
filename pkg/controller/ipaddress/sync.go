package ipaddress

import (
	"context"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagedBy is the ipaddress.kubernetes.io/managed-by label of the
// IPAddresses this controller keeps: upstream's Service allocator's name, as
// tools written against upstream look for it. No other IPAddress is ours.
const ManagedBy = "ipallocator.k8s.io"

// For is the IPAddress of svc's ClusterIP ip, as upstream's allocator writes it.
func For(ip string, svc *corev1.Service) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{Name: ip, Labels: map[string]string{
			networkingv1.LabelIPAddressFamily: family(ip),
			networkingv1.LabelManagedBy:       ManagedBy,
		}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{
			Group: "", Resource: "services", Namespace: svc.Namespace, Name: svc.Name,
		}},
	}
}

func family(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
		return string(corev1.IPv6Protocol)
	}
	return string(corev1.IPv4Protocol)
}

// clusterIPs is the addresses svc holds, in the form IPAddresses are named
// by (net.IP's, which IPAddress validation demands).
func clusterIPs(svc *corev1.Service) []string {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []string
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil && !slices.Contains(out, ip.String()) {
			out = append(out, ip.String()) // "None", a headless Service's, does not parse
		}
	}
	return out
}

// action is what a sync does about one address.
type action int

const (
	keep    action = iota
	create         // write the IPAddress of the first holder
	release        // delete our IPAddress: its Service let the address go
	relabel        // put our IPAddress's family label back
	clash          // another's IPAddress is on a Service's address: log it
)

func (a action) String() string {
	return [...]string{"keep", "create", "release", "relabel", "clash"}[a]
}

// plan decides what to do about the address whose IPAddress is cur (nil
// when there is none), held by holders (oldest first).
func plan(cur *networkingv1.IPAddress, holders []*corev1.Service) action {
	switch {
	case cur == nil && len(holders) > 0:
		return create
	case cur == nil, cur.DeletionTimestamp != nil:
		return keep // a deleted one's delete event brings us back
	case cur.Labels[networkingv1.LabelManagedBy] == ManagedBy:
		if !slices.ContainsFunc(holders, func(s *corev1.Service) bool { return isParent(cur, s) }) {
			return release
		}
		if cur.Labels[networkingv1.LabelIPAddressFamily] != family(cur.Name) {
			return relabel
		}
	case len(holders) > 0 && !slices.ContainsFunc(holders, func(s *corev1.Service) bool { return isParent(cur, s) }):
		return clash
	}
	return keep
}

func isParent(ip *networkingv1.IPAddress, svc *corev1.Service) bool {
	ref := ip.Spec.ParentRef
	return ref != nil && ref.Group == "" && ref.Resource == "services" && ref.Namespace == svc.Namespace && ref.Name == svc.Name
}

// holders is the Services holding ip, the oldest first: should two hold it
// (two servers' allocators racing, or a restore), the first keeps the
// IPAddress, as upstream's repair loop leaves it with whoever has it.
func (c *Controller) holders(ip string) ([]*corev1.Service, error) {
	objs, err := c.services.ByIndex(clusterIPIndex, ip)
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// sync makes the IPAddress of ip say which Service holds it, or deletes ours
// when none does.
func (c *Controller) sync(ctx context.Context, ip string) error {
	holders, err := c.holders(ip)
	if err != nil {
		return err
	}
	cur, err := c.addresses.Get(ip)
	switch {
	case apierrors.IsNotFound(err):
		cur = nil
	case err != nil:
		return err
	}
	api := c.client.NetworkingV1().IPAddresses()
	switch plan(cur, holders) {
	case create:
		svc := holders[0]
		if len(holders) > 1 {
			c.log.Warn("more than one Service holds a ClusterIP; its IPAddress names the oldest", "address", ip, "services", names(holders))
		}
		_, err := api.Create(ctx, For(ip, svc), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // its add event brings us back
		}
		if err == nil {
			c.log.Debug("IPAddress created", "address", ip, "service", svc.Namespace+"/"+svc.Name)
		}
		return err
	case release:
		// Only the IPAddress we decided on: one made again meanwhile is
		// looked at afresh when its event comes.
		err := api.Delete(ctx, ip, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		if err == nil {
			c.log.Debug("IPAddress released", "address", ip, "parent", parent(cur))
		}
		return err
	case relabel:
		next := cur.DeepCopy()
		next.Labels[networkingv1.LabelIPAddressFamily] = family(ip)
		_, err := api.Update(ctx, next, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case clash:
		c.log.Warn("a Service's ClusterIP has an IPAddress held by another; left alone",
			"address", ip, "services", names(holders), "parent", parent(cur), "managedBy", cur.Labels[networkingv1.LabelManagedBy])
	}
	return nil
}

func names(svcs []*corev1.Service) []string {
	out := make([]string, len(svcs))
	for i, s := range svcs {
		out[i] = s.Namespace + "/" + s.Name
	}
	return out
}

// parent renders an IPAddress's parentRef as kubectl's IPAddress table does.
func parent(ip *networkingv1.IPAddress) string {
	ref := ip.Spec.ParentRef
	if ref == nil {
		return "<none>"
	}
	s := ref.Resource
	if ref.Group != "" {
		s += "." + ref.Group
	}
	if ref.Namespace != "" {
		s += "/" + ref.Namespace
	}
	return s + "/" + ref.Name
}
