package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

func TestValidateEndpoints(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default"}
	for _, tc := range []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    []e
	}{
		{"valid", []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.244.0.5", Hostname: "web-0", NodeName: ptr.To("node-1")}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "fd00::6"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}},
		}}, nil},
		{"headless without ports", []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}}}}, nil},
		{"no addresses", []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}},
			[]e{{"FieldValueRequired", "subsets[0]", "must specify `addresses` or `notReadyAddresses`"}}},
		{"addresses", []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.244.0"}, {IP: "127.0.0.1"}, {IP: "169.254.1.1", Hostname: "Web", NodeName: ptr.To("Node_1")}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "::"}},
		}}, []e{
			invalid("subsets[0].addresses[0].ip", "must be a valid IP address"),
			invalid("subsets[0].addresses[1].ip", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
			invalid("subsets[0].addresses[2].ip", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
			invalid("subsets[0].addresses[2].hostname", ""),
			invalid("subsets[0].addresses[2].nodeName", ""),
			invalid("subsets[0].notReadyAddresses[0].ip", "may not be unspecified (::)"),
		}},
		{"ports", []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}},
			Ports:     []corev1.EndpointPort{{Port: 0, Protocol: corev1.ProtocolTCP}, {Name: "Web", Port: 80, Protocol: "ICMP", AppProtocol: ptr.To("a b")}},
		}}, []e{
			required("subsets[0].ports[0].name"),
			invalid("subsets[0].ports[0].port", "must be between 1 and 65535"),
			invalid("subsets[0].ports[1].name", ""),
			notSupported("subsets[0].ports[1].protocol", ""),
			invalid("subsets[0].ports[1].appProtocol", ""),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: meta, Subsets: tc.subsets}
			defaults.Endpoints(ep)
			expectErrs(t, ValidateEndpoints(ep), tc.want...)
		})
	}

	old := &corev1.Endpoints{ObjectMeta: stored(meta)}
	upd := old.DeepCopy()
	upd.Subsets = []corev1.EndpointSubset{{}}
	expectErrs(t, ValidateEndpointsUpdate(upd, old), required("subsets[0]"))
}
