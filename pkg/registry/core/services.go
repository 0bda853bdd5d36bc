package core

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(services) }

// FirstServiceIP is the address the kubernetes Service gets: the first in the range.
func FirstServiceIP(cidr *net.IPNet) net.IP { return ipAdd(cidr.IP, 1) }

func services(opts kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Service"), "services", "service", true,
		func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} },
		printers.Service())
	r.ShortNames = []string{"svc"}
	r.Categories = []string{"all"}
	r.Status = true
	r.Allocates = true
	r.Subresources = []apiserver.Subresource{{Name: "proxy", Kind: v1.WithKind("ServiceProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}}}
	alloc := &allocator{cidr: opts.ServiceCIDR, portMin: opts.NodePortMin, portMax: opts.NodePortMax}
	r.Default = func(obj runtime.Object) { defaults.Service(obj.(*corev1.Service)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateService(obj.(*corev1.Service)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.BeforeCreate = func(ctx context.Context, v apiserver.View, obj runtime.Object) error {
		return alloc.assign(v, obj.(*corev1.Service), nil)
	}
	r.PrepareForUpdate = func(ctx context.Context, v apiserver.View, obj, old runtime.Object) error {
		dropTypeDependentFields(obj.(*corev1.Service), old.(*corev1.Service))
		return alloc.assign(v, obj.(*corev1.Service), old.(*corev1.Service))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		s := obj.(*corev1.Service)
		return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
	}
	return r
}

// dropTypeDependentFields clears, when a Service changes type, the fields only
// the old type may carry, unless the client set them in this very write (as
// upstream does, so `kubectl edit` from LoadBalancer to ClusterIP just works).
func dropTypeDependentFields(svc, old *corev1.Service) {
	// The health check port goes with LoadBalancer+Local, whichever of the two
	// changed, so switching externalTrafficPolicy to Cluster releases it too.
	if needsHealthCheck(old) && !needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if svc.Spec.Type == old.Spec.Type {
		return
	}
	isLB := svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	external := isLB || svc.Spec.Type == corev1.ServiceTypeNodePort
	if !external {
		for i := range svc.Spec.Ports {
			for _, op := range old.Spec.Ports {
				if op.Port == svc.Spec.Ports[i].Port && op.NodePort == svc.Spec.Ports[i].NodePort {
					svc.Spec.Ports[i].NodePort = 0
				}
			}
		}
		if svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
			svc.Spec.ExternalTrafficPolicy = ""
		}
	}
	if !isLB {
		if sameBoolPtr(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if sameStringPtr(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if svc.Spec.IPFamilyPolicy != nil && sameStringPtr((*string)(svc.Spec.IPFamilyPolicy), (*string)(old.Spec.IPFamilyPolicy)) {
			svc.Spec.IPFamilyPolicy = nil
		}
		svc.Spec.IPFamilies = nil
	}
}

func sameBoolPtr(a, b *bool) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func sameStringPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// needsHealthCheck reports whether svc gets a spec.healthCheckNodePort: the
// port load balancers probe to find the nodes with a local endpoint.
func needsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// allocator hands out ClusterIPs, NodePorts and health check node ports (the
// latter two from one range, so they never collide). It keeps no state of its
// own: what is taken is read from the stored Services and IPAddresses, so it
// survives restarts and can never drift from storage. The API server
// serializes Service writes around it.
//
// An IPAddress takes its address as upstream's allocator reads it: whoever
// holds it (another Service, a Gateway, a user's reservation) keeps it, until
// the IPAddress is deleted. The ipaddress controller writes one for every
// ClusterIP and deletes it once the Service lets the address go, so an address
// comes free again a moment after its Service does.
type allocator struct {
	cidr             *net.IPNet
	portMin, portMax int
}

func (a *allocator) used(v apiserver.View, self *corev1.Service) (map[string]bool, map[int32]bool) {
	ips, ports := map[string]bool{}, map[int32]bool{}
	for _, o := range v.List(networkingv1.SchemeGroupVersion.String(), "ipaddresses") {
		ipa, ok := o.(*networkingv1.IPAddress)
		if !ok || (self != nil && parentIs(ipa.Spec.ParentRef, self)) {
			continue
		}
		// Keyed as the Services' addresses are (net.IP's form), whatever
		// form the name was written in.
		if ip := net.ParseIP(ipa.Name); ip != nil {
			ips[ip.String()] = true
		}
	}
	for _, o := range v.List("v1", "services") {
		s := o.(*corev1.Service)
		if self != nil && s.Namespace == self.Namespace && s.Name == self.Name {
			continue
		}
		for _, ip := range s.Spec.ClusterIPs {
			ips[ip] = true
		}
		if s.Spec.ClusterIP != "" {
			ips[s.Spec.ClusterIP] = true
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				ports[p.NodePort] = true
			}
		}
		if s.Spec.HealthCheckNodePort != 0 {
			ports[s.Spec.HealthCheckNodePort] = true
		}
	}
	return ips, ports
}

// parentIs reports whether ref names svc: the Service's own IPAddress, which
// does not keep the Service from its address (an update, or a Service made
// again under its name).
func parentIs(ref *networkingv1.ParentReference, svc *corev1.Service) bool {
	return ref != nil && ref.Group == "" && ref.Resource == "services" && ref.Namespace == svc.Namespace && ref.Name == svc.Name
}

var (
	ipPath          = field.NewPath("spec", "clusterIP")
	healthCheckPath = field.NewPath("spec", "healthCheckNodePort")
)

// assign fills ClusterIP, NodePorts and the health check node port on a new
// Service, or carries them over and completes them on an update (old != nil).
func (a *allocator) assign(v apiserver.View, svc, old *corev1.Service) error {
	usedIPs, usedPorts := a.used(v, svc)
	if old != nil {
		// Clients may omit what the server allocated (kubectl replace/apply do).
		if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
		}
		if wantsNodePorts(svc) {
			for i := range svc.Spec.Ports {
				p := &svc.Spec.Ports[i]
				if p.NodePort != 0 {
					continue
				}
				for _, op := range old.Spec.Ports {
					if op.Port == p.Port && orTCP(op.Protocol) == orTCP(p.Protocol) && op.NodePort != 0 {
						p.NodePort = op.NodePort
					}
				}
			}
		}
		if needsHealthCheck(svc) && needsHealthCheck(old) && svc.Spec.HealthCheckNodePort == 0 {
			svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	} else if svc.Spec.ClusterIP != corev1.ClusterIPNone && (old == nil || svc.Spec.ClusterIP == "" || old.Spec.ClusterIP != svc.Spec.ClusterIP) {
		// New, moved, or none yet (an ExternalName Service that changed type).
		if svc.Spec.ClusterIP == "" {
			ip, err := a.nextIP(usedIPs)
			if err != nil {
				return err
			}
			svc.Spec.ClusterIP = ip
		} else if err := a.checkIP(svc, usedIPs); err != nil {
			return err
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	} else if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	var errs field.ErrorList
	wantHC := needsHealthCheck(svc)
	hc := &svc.Spec.HealthCheckNodePort
	if wantHC && *hc != 0 {
		// Checked, and marked taken, before any node port is picked, so none
		// is picked onto it.
		kept := old != nil && needsHealthCheck(old) && old.Spec.HealthCheckNodePort == *hc
		errs = append(errs, a.checkPort(healthCheckPath, *hc, usedPorts, kept)...)
		usedPorts[*hc] = true
	}
	if wantsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
			switch {
			case p.NodePort == 0:
				n, err := a.nextPort(usedPorts)
				if err != nil {
					return err
				}
				p.NodePort = n
			case wantHC && p.NodePort == *hc:
				errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
			default:
				errs = append(errs, a.checkPort(path, p.NodePort, usedPorts, ownedPort(old, p.NodePort))...)
			}
			usedPorts[p.NodePort] = true
		}
	} else if svc.Spec.Type == corev1.ServiceTypeClusterIP || svc.Spec.Type == corev1.ServiceTypeExternalName {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if wantHC && *hc == 0 {
		n, err := a.nextPort(usedPorts)
		if err != nil {
			return err
		}
		*hc = n
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(v1.WithKind("Service").GroupKind(), svc.Name, errs)
	}
	return nil
}

// checkPort reports a port a client asked for that is outside the range or
// already taken by another Service, in upstream's words. owned says the
// Service held the port before this write.
func (a *allocator) checkPort(path *field.Path, port int32, used map[int32]bool, owned bool) field.ErrorList {
	switch {
	case int(port) < a.portMin || int(port) > a.portMax:
		return field.ErrorList{field.Invalid(path, port, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portMin, a.portMax))}
	case used[port] && !owned:
		return field.ErrorList{field.Invalid(path, port, "provided port is already allocated")}
	}
	return nil
}

// orTCP is p as defaulting will leave it: updates reach the allocator before
// defaulting, so a client's omitted protocol is still empty.
func orTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func ownedPort(old *corev1.Service, port int32) bool {
	if old == nil {
		return false
	}
	for _, p := range old.Spec.Ports {
		if p.NodePort == port {
			return true
		}
	}
	return false
}

func wantsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func (a *allocator) checkIP(svc *corev1.Service, used map[string]bool) error {
	ip := net.ParseIP(svc.Spec.ClusterIP)
	switch {
	case ip == nil:
		return nil // validation reports malformed addresses
	case !a.cidr.Contains(ip):
		return apierrors.NewInvalid(v1.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(ipPath, svc.Spec.ClusterIP,
			fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, a.cidr))})
	case used[ip.String()]:
		return apierrors.NewInvalid(v1.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(ipPath, svc.Spec.ClusterIP,
			fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", svc.Spec.ClusterIP))})
	}
	return nil
}

// nextIP picks a free address, skipping the network address, the first address
// (reserved for the kubernetes Service) and the broadcast address, from the
// upper part of the range before the static band.
func (a *allocator) nextIP(used map[string]bool) (string, error) {
	ones, bits := a.cidr.Mask.Size()
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits-ones)).Int64()
	if size > 1<<20 {
		size = 1 << 20
	}
	if size < 4 {
		return "", apierrors.NewInternalError(fmt.Errorf("service CIDR %s is too small", a.cidr))
	}
	// Upstream's static band: the lowest min(max(16, size/16), 256)
	// addresses are handed out last, so addresses chosen by hand (the
	// cluster DNS's 10th address among them) stay free for those who ask.
	static := min(max(16, size/16), 256)
	if static >= size-1 {
		static = 2
	}
	for _, band := range [][2]int64{{static, size - 1}, {2, static}} {
		lo, n := band[0], band[1]-band[0]
		if n <= 0 {
			continue
		}
		start := rand.Int64N(n)
		for i := int64(0); i < n; i++ {
			ip := ipAdd(a.cidr.IP, lo+(start+i)%n).String()
			if !used[ip] {
				return ip, nil
			}
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("range is full: no ClusterIP left in %s", a.cidr))
}

func (a *allocator) nextPort(used map[int32]bool) (int32, error) {
	n := a.portMax - a.portMin + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		p := int32(a.portMin + (start+i)%n)
		if !used[p] {
			return p, nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("range is full: no NodePort left in %d-%d", a.portMin, a.portMax))
}

func ipAdd(base net.IP, off int64) net.IP {
	ip := base.To4()
	if ip == nil {
		ip = base.To16()
	}
	n := new(big.Int).SetBytes(ip)
	n.Add(n, big.NewInt(off))
	out := n.Bytes()
	res := make(net.IP, len(ip))
	copy(res[len(res)-len(out):], out)
	return res
}
