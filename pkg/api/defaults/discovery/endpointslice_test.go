package discovery

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
)

func TestEndpointSlice(t *testing.T) {
	s := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To(int32(80))}, {Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP)}}}
	EndpointSlice(s)
	want := []discoveryv1.EndpointPort{
		{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(80))},
		{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP)},
	}
	if !apiequality.Semantic.DeepEqual(want, s.Ports) {
		t.Errorf("defaulted ports\n got: %+v\nwant: %+v", s.Ports, want)
	}
}
