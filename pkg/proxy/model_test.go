package proxy

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(name string, typ v1.ServiceType, clusterIP string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       v1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports},
	}
}

func slice(svcName string, port v1.ServicePort, target int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svcName + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port.Name), Protocol: ptr.To(port.Protocol), Port: ptr.To(target)}},
		Endpoints:   eps,
	}
}

func ep(ip string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func epOn(ip, node string) discoveryv1.Endpoint {
	e := ep(ip, nil)
	e.NodeName = &node
	return e
}

func TestBuildModel(t *testing.T) {
	http := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}
	dns := v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53}
	lb := svc("kubia", v1.ServiceTypeLoadBalancer, "10.43.0.10", http)
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.1.5"}, {Hostname: "x.example"}}
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }

	tests := []struct {
		name   string
		svcs   []*v1.Service
		slices []*discoveryv1.EndpointSlice
		want   []ServicePort
	}{{
		name: "load balancer with ready, unready and nil-ready endpoints",
		svcs: []*v1.Service{lb},
		slices: []*discoveryv1.EndpointSlice{
			slice("kubia", http, 8080, ep("10.42.0.3", nil), ep("10.42.0.2", ptr.To(true)), ep("10.42.0.9", ptr.To(false))),
			slice("kubia", http, 8080, ep("10.42.0.2", nil)), // duplicate across slices
		},
		want: []ServicePort{{Namespace: "default", Name: "kubia", PortName: "http", Protocol: TCP,
			ClusterIP: a("10.43.0.10"), Port: 80, NodePort: 30080, LoadBalancerIPs: []netip.Addr{a("192.168.1.5")},
			Endpoints: []Endpoint{{a("10.42.0.2"), 8080, false}, {a("10.42.0.3"), 8080, false}}}},
	}, {
		name: "cluster IP keeps no node port; udp; no endpoints",
		svcs: []*v1.Service{svc("dns", v1.ServiceTypeClusterIP, "10.43.0.53", dns, v1.ServicePort{Name: "http", Port: 80, NodePort: 31000})},
		want: []ServicePort{
			{Namespace: "default", Name: "dns", PortName: "dns", Protocol: UDP, ClusterIP: a("10.43.0.53"), Port: 53},
			{Namespace: "default", Name: "dns", PortName: "http", Protocol: TCP, ClusterIP: a("10.43.0.53"), Port: 80},
		},
	}, {
		name:   "headless, external name and slices of other services are ignored",
		svcs:   []*v1.Service{svc("headless", v1.ServiceTypeClusterIP, "None", http), svc("ext", v1.ServiceTypeExternalName, "", http)},
		slices: []*discoveryv1.EndpointSlice{slice("other", http, 8080, ep("10.42.0.2", nil))},
	}, {
		name: "ClientIP affinity with default and explicit timeouts",
		svcs: func() []*v1.Service {
			s1 := svc("a", v1.ServiceTypeClusterIP, "10.43.0.21", http)
			s1.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s2 := svc("b", v1.ServiceTypeClusterIP, "10.43.0.22", http)
			s2.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s2.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
			return []*v1.Service{s2, s1}
		}(),
		want: []ServicePort{
			{Namespace: "default", Name: "a", PortName: "http", Protocol: TCP, ClusterIP: a("10.43.0.21"), Port: 80, AffinityTimeout: 3 * time.Hour},
			{Namespace: "default", Name: "b", PortName: "http", Protocol: TCP, ClusterIP: a("10.43.0.22"), Port: 80, AffinityTimeout: time.Minute},
		},
	}, {
		name: "externalTrafficPolicy Local marks this node's endpoints; external IPs kept apart",
		svcs: func() []*v1.Service {
			s := svc("local", v1.ServiceTypeLoadBalancer, "10.43.0.30", http)
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
			s.Spec.ExternalIPs = []string{"192.0.2.7", "192.0.2.7"}
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.1.9"}}
			return []*v1.Service{s}
		}(),
		slices: []*discoveryv1.EndpointSlice{slice("local", http, 8080, epOn("10.42.0.2", "node-1"), epOn("10.42.1.2", "node-2"), ep("10.42.2.2", nil))},
		want: []ServicePort{{Namespace: "default", Name: "local", PortName: "http", Protocol: TCP,
			ClusterIP: a("10.43.0.30"), Port: 80, NodePort: 30080, ExternalLocal: true,
			LoadBalancerIPs: []netip.Addr{a("192.168.1.9")}, ExternalIPs: []netip.Addr{a("192.0.2.7")},
			Endpoints: []Endpoint{{a("10.42.0.2"), 8080, true}, {a("10.42.1.2"), 8080, false}, {a("10.42.2.2"), 8080, false}}}},
	}, {
		name: "internalTrafficPolicy Local, apart from the external policy; Cluster as before",
		svcs: func() []*v1.Service {
			in := svc("in", v1.ServiceTypeClusterIP, "10.43.0.31", dns)
			in.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
			np := svc("np", v1.ServiceTypeNodePort, "10.43.0.32", http)
			np.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
			np.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
			cl := svc("cl", v1.ServiceTypeClusterIP, "10.43.0.33", dns)
			cl.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyCluster)
			return []*v1.Service{in, np, cl}
		}(),
		slices: []*discoveryv1.EndpointSlice{slice("in", dns, 5353, epOn("10.42.0.2", "node-1"), epOn("10.42.1.2", "node-2"))},
		want: []ServicePort{
			{Namespace: "default", Name: "cl", PortName: "dns", Protocol: UDP, ClusterIP: a("10.43.0.33"), Port: 53},
			{Namespace: "default", Name: "in", PortName: "dns", Protocol: UDP, ClusterIP: a("10.43.0.31"), Port: 53, InternalLocal: true,
				Endpoints: []Endpoint{{a("10.42.0.2"), 5353, true}, {a("10.42.1.2"), 5353, false}}},
			{Namespace: "default", Name: "np", PortName: "http", Protocol: TCP, ClusterIP: a("10.43.0.32"), Port: 80, NodePort: 30080, InternalLocal: true},
		},
	}, {
		name:   "slice port must match the service port by name and protocol",
		svcs:   []*v1.Service{svc("web", v1.ServiceTypeNodePort, "10.43.0.11", http)},
		slices: []*discoveryv1.EndpointSlice{slice("web", v1.ServicePort{Name: "http", Protocol: v1.ProtocolUDP}, 8080, ep("10.42.0.2", nil))},
		want: []ServicePort{{Namespace: "default", Name: "web", PortName: "http", Protocol: TCP,
			ClusterIP: a("10.43.0.11"), Port: 80, NodePort: 30080}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BuildModel(tt.svcs, tt.slices, "node-1").Services
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("BuildModel:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadBalancerIPsHeldWhereServed(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")
	ep := func(local bool) []Endpoint {
		return []Endpoint{{IP: netip.MustParseAddr("10.42.1.5"), Port: 8080, Local: local}}
	}
	m := Model{Services: []ServicePort{
		{Name: "cluster", LoadBalancerIPs: []netip.Addr{b}, Endpoints: ep(false)},
		{Name: "local-here", ExternalLocal: true, LoadBalancerIPs: []netip.Addr{a}, Endpoints: ep(true)},
		{Name: "local-elsewhere", ExternalLocal: true, LoadBalancerIPs: []netip.Addr{c}, Endpoints: ep(false)},
		{Name: "cluster-again", LoadBalancerIPs: []netip.Addr{b}},
	}}
	got := m.LoadBalancerIPs()
	if want := []netip.Addr{a, b}; !slices.Equal(got, want) {
		t.Fatalf("LoadBalancerIPs() = %v, want %v (a Local Service's address only where it has a local endpoint)", got, want)
	}
}
