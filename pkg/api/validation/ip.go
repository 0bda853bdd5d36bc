package validation

import (
	"fmt"
	"net"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateIP checks an IP in one of the fields that predate strict parsing:
// non-canonical forms pass, leading zeros and IPv4-mapped IPv6 do not.
func ValidateIP(ip string, fldPath *field.Path) field.ErrorList {
	return validation.IsValidIPForLegacyField(fldPath, ip, true, nil)
}

func validateCIDR(cidr string, fldPath *field.Path) field.ErrorList {
	return validation.IsValidCIDRForLegacyField(fldPath, cidr, true, nil)
}

// ValidateNonSpecialIP rejects the addresses no endpoint or external IP can be:
// unspecified, loopback and link-local.
func ValidateNonSpecialIP(ipAddress string, fldPath *field.Path) field.ErrorList {
	ip := net.ParseIP(ipAddress)
	if ip == nil {
		return field.ErrorList{field.Invalid(fldPath, ipAddress, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, fmt.Sprintf("may not be unspecified (%v)", ipAddress)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// IsIPv6 reports whether s is an IPv6 address (not an IPv4-mapped one).
func IsIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.Is4In6()
}

// isDualStack reports whether values hold exactly one IPv4 and one IPv6 entry;
// parse turns an entry into an address.
func isDualStack(values []string, parse func(string) (netip.Addr, bool)) bool {
	v4, v6 := 0, 0
	for _, v := range values {
		a, ok := parse(v)
		if !ok {
			return false
		}
		if a.Unmap().Is4() {
			v4++
		} else {
			v6++
		}
	}
	return v4 == 1 && v6 == 1
}

func parseIPAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

func parseCIDRAddr(s string) (netip.Addr, bool) {
	p, err := netip.ParsePrefix(s)
	return p.Addr(), err == nil
}

// validatePodIPs: each pod IP is valid and there is at most one per family.
func validatePodIPs(p *corev1.Pod) field.ErrorList {
	ipsPath := field.NewPath("status", "podIPs")
	var errs field.ErrorList
	for i, ip := range p.Status.PodIPs {
		errs = append(errs, ValidateIP(ip.IP, ipsPath.Index(i))...)
	}
	if len(errs) == 0 && len(p.Status.PodIPs) > 1 {
		ips := make([]string, len(p.Status.PodIPs))
		for i, ip := range p.Status.PodIPs {
			ips[i] = ip.IP
		}
		if len(ips) > 2 || !isDualStack(ips, parseIPAddr) {
			errs = append(errs, field.Invalid(ipsPath, p.Status.PodIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if p.Status.PodIP != "" && len(p.Status.PodIPs) > 0 && p.Status.PodIP != p.Status.PodIPs[0].IP {
		errs = append(errs, field.Invalid(field.NewPath("status", "podIP"), p.Status.PodIP, "must match `podIPs[0].ip`"))
	}
	return errs
}
