package networking

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

func serviceCIDR(cidrs ...string) *networkingv1.ServiceCIDR {
	return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "test-svc-cidr"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
}

func TestValidateServiceCIDR(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		want  errs
	}{
		{"IPv4", []string{"203.0.113.0/24"}, nil},
		{"dual stack", []string{"10.43.0.0/16", "2001:db8:cb00::/64"}, nil},
		{"none", nil, errs{required("spec.cidrs")}},
		{"three", []string{"10.0.0.0/24", "10.1.0.0/24", "fd00::/64"}, errs{invalid("spec.cidrs", "may only hold up to 2 values")}},
		{"one family twice", []string{"10.0.0.0/24", "10.1.0.0/24"},
			errs{invalid("spec.cidrs", "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64")}},
		{"not canonical", []string{"10.0.0.1/24"}, errs{invalid("spec.cidrs[0]", "must not have bits set beyond the prefix length")}},
		{"not a CIDR", []string{"10.0.0.1"}, errs{invalid("spec.cidrs[0]", "must be a valid CIDR value")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateServiceCIDR(serviceCIDR(tt.cidrs...)), tt.want...)
		})
	}
}

func TestValidateServiceCIDRUpdate(t *testing.T) {
	old := serviceCIDR("10.43.0.0/16")
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	update := func(cidrs ...string) *networkingv1.ServiceCIDR {
		sc := old.DeepCopy()
		sc.Spec.CIDRs = cidrs
		return sc
	}
	expectErrs(t, ValidateServiceCIDRUpdate(update("10.43.0.0/16"), old))
	expectErrs(t, ValidateServiceCIDRUpdate(update("10.43.0.0/16", "fd00:43::/112"), old))
	expectErrs(t, ValidateServiceCIDRUpdate(update("10.44.0.0/16"), old), invalid("spec.cidrs[0]", "field is immutable"))
	expectErrs(t, ValidateServiceCIDRUpdate(update("10.44.0.0/16", "10.45.0.0/16"), old),
		invalid("spec.cidrs[0]", "field is immutable"), invalid("spec.cidrs", "no more than one IP for each IP family"))
	expectErrs(t, ValidateServiceCIDRUpdate(update(), old), invalid("spec.cidrs", "field is immutable"))

	status := old.DeepCopy()
	status.Status.Conditions = []metav1.Condition{{Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionTrue}}
	expectErrs(t, ValidateServiceCIDRStatusUpdate(status, old))
}

func TestValidateIPAddress(t *testing.T) {
	ref := func() *networkingv1.ParentReference {
		return &networkingv1.ParentReference{Group: "mygroup", Resource: "myresources", Namespace: "foo", Name: "bar"}
	}
	address := func(name string, ref *networkingv1.ParentReference) *networkingv1.IPAddress {
		return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}}
	}
	tests := []struct {
		name string
		ip   *networkingv1.IPAddress
		want errs
	}{
		{"broadcast", address("255.255.255.255", ref()), nil},
		{"link-local IPv6", address("fe80::42:1dff:fe84:f9e2", ref()), nil},
		{"a Service's", address("10.43.0.10", &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}), nil},
		{"not an IP", address("web", ref()), errs{invalid("metadata.name", "must be a valid IP address")}},
		{"not canonical", address("2001:db8:0::1", ref()), errs{invalid("metadata.name", "must be in canonical form")}},
		{"no parent", address("10.0.0.1", nil), errs{required("spec.parentRef")}},
		{"parent without resource or name", address("10.0.0.1", &networkingv1.ParentReference{Group: "Bad_Group", Namespace: "a/b"}),
			errs{invalid("spec.parentRef.group", "a lowercase RFC 1123 subdomain"), required("spec.parentRef.resource"),
				required("spec.parentRef.name"), invalid("spec.parentRef.namespace", "may not contain '/'")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateIPAddress(tt.ip), tt.want...)
		})
	}

	old := address("255.255.255.255", ref())
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	annotated := old.DeepCopy()
	annotated.Annotations = map[string]string{"updated": "true"}
	expectErrs(t, ValidateIPAddressUpdate(annotated, old))
	moved := old.DeepCopy()
	moved.Spec.ParentRef.Name = "baz"
	expectErrs(t, ValidateIPAddressUpdate(moved, old), invalid("spec.parentRef", "field is immutable"))
}
