package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestSysctls follows upstream's conformance test "should reject invalid
// sysctls": the invalid names are refused, each with upstream's message, and
// the valid ones are not mentioned.
func TestSysctls(t *testing.T) {
	p := validPod()
	p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "foo-", Value: "bar"},
		{Name: "kernel.shmmax", Value: "100000000"},
		{Name: "safe-and-unsafe", Value: "100000000"},
		{Name: "bar..", Value: "42"},
		{Name: "net/ipv4/ip_local_port_range", Value: "1024 65535"},
		{Name: "kernel.shmmax", Value: "1"},
		{Name: "", Value: "1"},
		{Name: strings.Repeat("a", 254)},
	}}
	const msg = `must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`
	errs := ValidatePod(p)
	expectErrs(t, errs,
		invalid("spec.securityContext.sysctls[0].name", msg),
		invalid("spec.securityContext.sysctls[3].name", msg),
		duplicate("spec.securityContext.sysctls[5].name"),
		required("spec.securityContext.sysctls[6].name"),
		invalid("spec.securityContext.sysctls[7].name", msg),
	)
	text := errs.ToAggregate().Error()
	for _, s := range []string{`Invalid value: "foo-"`, `Invalid value: "bar.."`} {
		if !strings.Contains(text, s) {
			t.Errorf("errors do not say %s:\n%s", s, text)
		}
	}
}

func TestHostSysctls(t *testing.T) {
	p := validPod()
	p.Spec.HostNetwork, p.Spec.HostIPC = true, true
	p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "net.ipv4.ip_forward", Value: "1"},
		{Name: "kernel.shmmax", Value: "1"},
		{Name: "kernel.domainname", Value: "x"}, // the UTS namespace, not shared
	}}
	expectErrs(t, ValidatePod(p),
		invalid("spec.securityContext.sysctls[0].name", "may not be specified when 'hostNetwork' is true"),
		invalid("spec.securityContext.sysctls[1].name", "may not be specified when 'hostIPC' is true"),
	)
}
