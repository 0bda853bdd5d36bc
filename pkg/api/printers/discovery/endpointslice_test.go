package discovery

import (
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestEndpointSliceCells(t *testing.T) {
	printerstest.ExpectColumns(t, EndpointSlice(), []string{"Name", "AddressType", "Ports", "Endpoints", "Age"})
	printerstest.CheckRows(t, EndpointSlice(), &discoveryv1.EndpointSlice{})

	tests := []struct {
		name      string
		ports     []discoveryv1.EndpointPort
		endpoints []discoveryv1.Endpoint
		wantPorts string
		wantEPs   string
	}{{
		name:      "empty",
		wantPorts: "<unset>",
		wantEPs:   "<unset>",
	}, {
		name:      "ports and addresses",
		ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}, {Name: ptr.To("grpc")}, {}},
		endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}}, {Addresses: []string{"10.42.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}},
		wantPorts: "8080,grpc,*",
		wantEPs:   "10.42.0.5,10.42.0.6",
	}, {
		name:  "truncated",
		ports: []discoveryv1.EndpointPort{{Port: ptr.To(int32(80))}, {Port: ptr.To(int32(443))}, {Port: ptr.To(int32(8080))}, {Port: ptr.To(int32(9090))}, {Port: ptr.To(int32(9091))}},
		endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.5"}}, {Addresses: []string{"10.42.0.6"}},
			{Addresses: []string{"10.42.0.7"}}, {Addresses: []string{"10.42.0.8"}},
		},
		wantPorts: "80,443,8080 + 2 more...",
		wantEPs:   "10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &discoveryv1.EndpointSlice{
				ObjectMeta:  printerstest.ObjectMeta("web-x7k2p", 4*time.Hour+15*time.Minute),
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       tt.ports,
				Endpoints:   tt.endpoints,
			}
			printerstest.AssertCells(t, EndpointSlice(), s, []interface{}{"web-x7k2p", "IPv4", tt.wantPorts, tt.wantEPs, "4h15m"})
		})
	}
}
