package proxy

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestHealthChecks(t *testing.T) {
	http := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}
	https := v1.ServicePort{Name: "https", Protocol: v1.ProtocolTCP, Port: 443, NodePort: 30443}
	local := func(name string, hc int32, ports ...v1.ServicePort) *v1.Service {
		s := svc(name, v1.ServiceTypeLoadBalancer, "10.43.0.10", ports...)
		s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = hc
		return s
	}
	cluster := local("cluster", 0, http)
	cluster.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
	nodePort := local("nodeport", 0, http)
	nodePort.Spec.Type = v1.ServiceTypeNodePort

	tests := []struct {
		name   string
		svcs   []*v1.Service
		slices []*discoveryv1.EndpointSlice
		want   []HealthCheck
	}{{
		name: "ready local endpoints counted, remote and unready ones not",
		svcs: []*v1.Service{local("web", 31000, http)},
		slices: []*discoveryv1.EndpointSlice{slice("web", http, 8080,
			epOn("10.42.0.2", "node-1"), epOn("10.42.0.3", "node-2"),
			func() discoveryv1.Endpoint {
				e := epOn("10.42.0.4", "node-1")
				e.Conditions.Ready = ptr.To(false)
				return e
			}())},
		want: []HealthCheck{{Namespace: "default", Name: "web", Port: 31000, LocalEndpoints: 1}},
	}, {
		name:   "no local endpoint",
		svcs:   []*v1.Service{local("web", 31000, http)},
		slices: []*discoveryv1.EndpointSlice{slice("web", http, 8080, epOn("10.42.0.3", "node-2"))},
		want:   []HealthCheck{{Namespace: "default", Name: "web", Port: 31000}},
	}, {
		name: "a pod behind two ports counts once per port (address and port), as in kube-proxy",
		svcs: []*v1.Service{local("web", 31000, http, https)},
		slices: []*discoveryv1.EndpointSlice{
			slice("web", http, 8080, epOn("10.42.0.2", "node-1")),
			func() *discoveryv1.EndpointSlice {
				s := slice("web", https, 8443, epOn("10.42.0.2", "node-1"))
				s.Name = "web-y"
				return s
			}(),
		},
		want: []HealthCheck{{Namespace: "default", Name: "web", Port: 31000, LocalEndpoints: 2}},
	}, {
		name: "only LoadBalancer with Local and a port",
		svcs: []*v1.Service{cluster, nodePort, local("unallocated", 0, http), local("b", 31002, http), local("a", 31001, http)},
		want: []HealthCheck{{Namespace: "default", Name: "a", Port: 31001}, {Namespace: "default", Name: "b", Port: 31002}},
	}, {
		name: "a port claimed twice goes to one Service",
		svcs: []*v1.Service{local("b", 31001, http), local("a", 31001, http)},
		want: []HealthCheck{{Namespace: "default", Name: "a", Port: 31001}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HealthChecks(tt.svcs, BuildModel(tt.svcs, tt.slices, "node-1"))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HealthChecks =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
