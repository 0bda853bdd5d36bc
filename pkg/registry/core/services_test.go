package core

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// stored is the Services the allocator sees, as the API server's View.
type stored []*corev1.Service

func (s stored) List(gv, resource string) []runtime.Object {
	if gv != "v1" || resource != "services" {
		return nil
	}
	var out []runtime.Object
	for _, svc := range s {
		out = append(out, svc)
	}
	return out
}

// withIPs is a View of Services and IPAddresses.
type withIPs struct {
	stored
	ips []*networkingv1.IPAddress
}

func (w withIPs) List(gv, resource string) []runtime.Object {
	if gv != "networking.k8s.io/v1" || resource != "ipaddresses" {
		return w.stored.List(gv, resource)
	}
	var out []runtime.Object
	for _, ip := range w.ips {
		out = append(out, ip)
	}
	return out
}

func lbLocal(name string, hc int32, nodePorts ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{
		Type:                  corev1.ServiceTypeLoadBalancer,
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		HealthCheckNodePort:   hc,
	}}
	for i, np := range nodePorts {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: int32(80 + i), Protocol: corev1.ProtocolTCP, NodePort: np})
	}
	if len(nodePorts) == 0 {
		s.Spec.Ports = []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}
	}
	return s
}

func testAllocator(min, max int) *allocator {
	_, cidr, _ := net.ParseCIDR("10.43.0.0/24")
	return &allocator{cidr: cidr, portMin: min, portMax: max}
}

func TestHealthCheckNodePortAllocation(t *testing.T) {
	nodePort := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "np"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30000}}}}
	tests := []struct {
		name    string
		stored  stored
		svc     *corev1.Service
		wantHC  int32 // 0: any port in range, distinct from every other
		wantErr string
	}{
		{name: "allocated when not set", stored: stored{nodePort}, svc: lbLocal("web", 0)},
		{name: "the one asked for", stored: stored{nodePort}, svc: lbLocal("web", 30002), wantHC: 30002},
		{name: "another Service's node port", stored: stored{nodePort}, svc: lbLocal("web", 30000),
			wantErr: "spec.healthCheckNodePort: Invalid value: 30000: provided port is already allocated"},
		{name: "another Service's health check port", stored: stored{lbLocal("other", 30001, 30002)}, svc: lbLocal("web", 30001),
			wantErr: "spec.healthCheckNodePort: Invalid value: 30001: provided port is already allocated"},
		{name: "a node port onto another Service's health check port", stored: stored{lbLocal("other", 30001, 30002)}, svc: lbLocal("web", 0, 30001),
			wantErr: "spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated"},
		{name: "its own node port", svc: lbLocal("web", 30001, 30001),
			wantErr: "spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated"},
		{name: "out of range", svc: lbLocal("web", 29999),
			wantErr: "spec.healthCheckNodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-30009"},
		{name: "LoadBalancer without node ports still gets one", stored: stored{nodePort}, svc: func() *corev1.Service {
			s := lbLocal("web", 0)
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := testAllocator(30000, 30009).assign(tt.stored, tt.svc, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("assign: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hc := tt.svc.Spec.HealthCheckNodePort
			if tt.wantHC != 0 && hc != tt.wantHC {
				t.Fatalf("healthCheckNodePort %d, want %d", hc, tt.wantHC)
			}
			if hc < 30000 || hc > 30009 {
				t.Fatalf("healthCheckNodePort %d, want one in 30000-30009", hc)
			}
			_, ports := testAllocator(30000, 30009).used(tt.stored, tt.svc)
			for _, p := range tt.svc.Spec.Ports {
				if p.NodePort == hc {
					t.Fatalf("healthCheckNodePort %d is also its own node port", hc)
				}
			}
			if ports[hc] {
				t.Fatalf("healthCheckNodePort %d is another Service's", hc)
			}
		})
	}
}

// TestHealthCheckNodePortsFillTheRange allocates LoadBalancer+Local Services
// until a three-port range is full: node ports and health check ports never
// collide, and the one that does not fit is refused, not doubled up.
func TestHealthCheckNodePortsFillTheRange(t *testing.T) {
	a := testAllocator(30000, 30002)
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "np"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	var st stored
	if err := a.assign(st, np, nil); err != nil {
		t.Fatal(err)
	}
	st = append(st, np)
	web := lbLocal("web", 0)
	if err := a.assign(st, web, nil); err != nil {
		t.Fatal(err)
	}
	st = append(st, web)
	seen := map[int32]bool{}
	for _, p := range []int32{np.Spec.Ports[0].NodePort, web.Spec.Ports[0].NodePort, web.Spec.HealthCheckNodePort} {
		if seen[p] || p < 30000 || p > 30002 {
			t.Fatalf("ports %v: %d twice or out of range", seen, p)
		}
		seen[p] = true
	}
	full := lbLocal("full", 0)
	full.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	if err := a.assign(st, full, nil); err == nil || !strings.Contains(err.Error(), "range is full") {
		t.Fatalf("a health check port with the range full: %v (got %d), want range is full", err, full.Spec.HealthCheckNodePort)
	}
}

// TestHealthCheckNodePortUpdate runs the update path: the port is kept when a
// client omits it, released when the Service stops being LoadBalancer+Local,
// and allocated afresh when it becomes one again.
func TestHealthCheckNodePortUpdate(t *testing.T) {
	a := testAllocator(30000, 30009)
	old := lbLocal("web", 30005, 30001)
	update := func(mutate func(*corev1.Service)) (*corev1.Service, error) {
		svc := old.DeepCopy()
		mutate(svc)
		dropTypeDependentFields(svc, old)
		err := a.assign(stored{old}, svc, old)
		return svc, err
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   int32
	}{
		// As kubectl replace sends it: no allocated fields, no defaults yet.
		{"omitted by the client", func(s *corev1.Service) {
			s.Spec.HealthCheckNodePort, s.Spec.Ports[0].NodePort, s.Spec.Ports[0].Protocol = 0, 0, ""
		}, 30005},
		{"unchanged", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "b"} }, 30005},
		{"moved by the client", func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30009 }, 30009},
		{"externalTrafficPolicy to Cluster", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, 0},
		{"type to NodePort", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, 0},
		{"type to ClusterIP", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := update(tt.mutate)
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.Spec.HealthCheckNodePort; got != tt.want {
				t.Fatalf("healthCheckNodePort %d, want %d", got, tt.want)
			}
			if got := svc.Spec.Ports[0].NodePort; svc.Spec.Type != corev1.ServiceTypeClusterIP && got != 30001 {
				t.Fatalf("nodePort %d, want 30001 kept", got)
			}
		})
	}

	// Back to Local from Cluster: a fresh port, not a node port.
	old.Spec.ExternalTrafficPolicy, old.Spec.HealthCheckNodePort = corev1.ServiceExternalTrafficPolicyCluster, 0
	svc, err := update(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal })
	if err != nil {
		t.Fatal(err)
	}
	if hc := svc.Spec.HealthCheckNodePort; hc < 30000 || hc > 30009 || hc == svc.Spec.Ports[0].NodePort {
		t.Fatalf("healthCheckNodePort %d after going back to Local, want a free one in range", hc)
	}
}

// TestClusterIPStaticBand: addresses are handed out from above the static
// band (the lowest 16 of a /24) until the rest is full, so an address chosen
// by hand there, as the cluster DNS's 10th is, stays free; then the band is
// used too, and every address but the network's, the kubernetes Service's
// and the broadcast is given once.
func TestClusterIPStaticBand(t *testing.T) {
	a := testAllocator(30000, 30009)
	used := map[string]bool{}
	for i := range 253 {
		ip, err := a.nextIP(used)
		if err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
		if used[ip] {
			t.Fatalf("%s given twice", ip)
		}
		last := net.ParseIP(ip).To4()[3]
		if i < 255-16 && last < 16 {
			t.Fatalf("address %d is %s, in the static band while %d above it are free", i, ip, 255-16-i)
		}
		if last == 0 || last == 1 || last == 255 {
			t.Fatalf("address %d is %s", i, ip)
		}
		used[ip] = true
	}
	if _, err := a.nextIP(used); err == nil || !strings.Contains(err.Error(), "range is full") {
		t.Fatalf("a full range: %v", err)
	}
}

func clusterIPService(ns, name, ip string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	if ip != "" {
		s.Spec.ClusterIPs = []string{ip}
	}
	return s
}

func ipAddress(ip string, ref *networkingv1.ParentReference) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: ip}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}}
}

func serviceRef(ns, name string) *networkingv1.ParentReference {
	return &networkingv1.ParentReference{Resource: "services", Namespace: ns, Name: name}
}

// TestClusterIPTakenByIPAddress: an IPAddress takes its address whoever holds
// it (another Service, one that is gone, another kind of object) both from a
// client asking for it and from the random pick; only the Service's own
// IPAddress, by namespace and name, leaves the address to it.
func TestClusterIPTakenByIPAddress(t *testing.T) {
	const taken = "10.43.0.7"
	gateway := &networkingv1.ParentReference{Group: "gateway.networking.k8s.io", Resource: "gateways", Namespace: "default", Name: "web"}
	for _, tc := range []struct {
		name string
		ref  *networkingv1.ParentReference
		free bool // for default/web
	}{
		{"another Service's", serviceRef("default", "other"), false},
		{"a Service of that name in another namespace", serviceRef("team", "web"), false},
		{"a gateway's of the same namespace and name", gateway, false},
		{"the Service's own", serviceRef("default", "web"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := withIPs{ips: []*networkingv1.IPAddress{ipAddress(taken, tc.ref)}}
			a := testAllocator(30000, 30009)

			svc := clusterIPService("default", "web", taken)
			err := a.assign(v, svc, nil)
			want := `spec.clusterIP: Invalid value: "10.43.0.7": failed to allocate IP 10.43.0.7: provided IP is already allocated`
			switch {
			case tc.free && err != nil:
				t.Fatalf("asking for %s: %v", taken, err)
			case !tc.free && (err == nil || !strings.Contains(err.Error(), want)):
				t.Fatalf("asking for %s: %v, want %q", taken, err, want)
			}

			// An update that moves to it.
			old := clusterIPService("default", "web", "10.43.0.200")
			moved := old.DeepCopy()
			moved.Spec.ClusterIP, moved.Spec.ClusterIPs = taken, nil
			if err := a.assign(withIPs{stored{old}, v.ips}, moved, old); (err == nil) != tc.free {
				t.Fatalf("moving to %s: %v", taken, err)
			}
			// An update that keeps it is no allocation: nothing to refuse.
			kept := clusterIPService("default", "web", taken)
			if err := a.assign(withIPs{stored{kept}, v.ips}, kept.DeepCopy(), kept); err != nil {
				t.Fatalf("keeping %s: %v", taken, err)
			}
		})
	}
}

// TestRandomClusterIPSkipsIPAddresses fills a /28 but for one address and the
// one an IPAddress holds: the random pick gives the free one, then finds the
// range full rather than give the held one.
func TestRandomClusterIPSkipsIPAddresses(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.43.0.0/28")
	a := &allocator{cidr: cidr, portMin: 30000, portMax: 30009}
	v := withIPs{ips: []*networkingv1.IPAddress{ipAddress("10.43.0.9", &networkingv1.ParentReference{Resource: "myresources", Name: "x"})}}
	for i := 2; i <= 14; i++ {
		if ip := fmt.Sprintf("10.43.0.%d", i); i != 9 && i != 5 {
			v.stored = append(v.stored, clusterIPService("default", "s"+ip, ip))
		}
	}
	for range 20 {
		svc := clusterIPService("default", "web", "")
		if err := a.assign(v, svc, nil); err != nil || svc.Spec.ClusterIP != "10.43.0.5" {
			t.Fatalf("clusterIP %q (%v), want the one free address 10.43.0.5", svc.Spec.ClusterIP, err)
		}
	}
	v.stored = append(v.stored, clusterIPService("default", "five", "10.43.0.5"))
	svc := clusterIPService("default", "web", "")
	if err := a.assign(v, svc, nil); err == nil || !strings.Contains(err.Error(), "range is full") {
		t.Fatalf("clusterIP %q (%v), want range is full", svc.Spec.ClusterIP, err)
	}
	// Its own IPAddress does not count against a Service made again.
	v.ips = append(v.ips, ipAddress("10.43.0.6", serviceRef("default", "web")))
	v.stored = slices.DeleteFunc(v.stored, func(s *corev1.Service) bool { return s.Spec.ClusterIP == "10.43.0.6" })
	if err := a.assign(v, svc, nil); err != nil || svc.Spec.ClusterIP != "10.43.0.6" {
		t.Fatalf("clusterIP %q (%v), want 10.43.0.6, the address of the Service's own IPAddress", svc.Spec.ClusterIP, err)
	}
}
