package discovery

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/discovery"
	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

type e = validationtest.Err

var (
	required     = validationtest.Required
	invalid      = validationtest.Invalid
	notSupported = validationtest.NotSupported
	duplicate    = validationtest.Duplicate
	expectErrs   = validationtest.Expect
	stored       = validationtest.Stored
)

func TestValidateEndpointSlice(t *testing.T) {
	slice := func(typ discoveryv1.AddressType, mutate func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: typ,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.5"}, NodeName: ptr.To("node-1")}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(80))}},
		}
		if mutate != nil {
			mutate(s)
		}
		defaults.EndpointSlice(s)
		return s
	}
	for _, tc := range []struct {
		name  string
		slice *discoveryv1.EndpointSlice
		want  []e
	}{
		{"valid", slice(discoveryv1.AddressTypeIPv4, nil), nil},
		{"fqdn", slice(discoveryv1.AddressTypeFQDN, func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"db.example.com"} }), nil},
		{"no address type", slice("", nil), []e{required("addressType")}},
		{"unknown address type", slice("MAC", nil), []e{notSupported("addressType", `"FQDN", "IPv4", "IPv6"`)}},
		{"wrong family", slice(discoveryv1.AddressTypeIPv6, nil), []e{invalid("endpoints[0].addresses[0]", "must be an IPv6 address")}},
		{"addresses", slice(discoveryv1.AddressTypeIPv4, func(s *discoveryv1.EndpointSlice) {
			s.Endpoints = []discoveryv1.Endpoint{
				{},
				{Addresses: []string{"fd00::1", "127.0.0.1", "bogus"}, NodeName: ptr.To("Node_1"), Hostname: ptr.To("Web")},
			}
		}), []e{
			{Type: "FieldValueRequired", Field: "endpoints[0].addresses", Detail: "must contain at least 1 address"},
			invalid("endpoints[1].addresses[0]", "must be an IPv4 address"),
			invalid("endpoints[1].addresses[1]", "loopback"),
			invalid("endpoints[1].addresses[2]", "must be a valid IP address"),
			invalid("endpoints[1].nodeName", ""),
			invalid("endpoints[1].hostname", ""),
		}},
		{"ports", slice(discoveryv1.AddressTypeIPv4, func(s *discoveryv1.EndpointSlice) {
			s.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http")}, {Name: ptr.To("http")}, {Name: ptr.To("Web"), Protocol: ptr.To(corev1.Protocol("ICMP"))}, {}, {}}
		}), []e{duplicate("ports[1].name"), invalid("ports[2].name", ""), notSupported("ports[2].protocol", ""), duplicate("ports[4].name")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateEndpointSlice(tc.slice), tc.want...) })
	}

	old := slice(discoveryv1.AddressTypeIPv4, nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Endpoints[0].Addresses = []string{"10.244.0.6"}
	expectErrs(t, ValidateEndpointSliceUpdate(upd, old))
	upd.AddressType = discoveryv1.AddressTypeFQDN
	expectErrs(t, ValidateEndpointSliceUpdate(upd, old), invalid("addressType", "field is immutable"))
}
