package printers

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxListed is how many addresses or ports a cell lists before "+ N more...".
const maxListed = 3

func endpointsPrinter() Printer {
	return newPrinter([]metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
		ageColumn(),
	}, func(ep *corev1.Endpoints, now time.Time) []interface{} {
		return []interface{}{ep.Name, formatEndpoints(ep), age(ep.ObjectMeta, now)}
	})
}

// formatEndpoints lists ready addresses as ip:port for every port of their
// subset (bare IPs for a subset without ports), at most three, then
// "+ N more..." for the rest. Not-ready addresses are not shown.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	more := false
	count := 0
	add := func(s string) {
		if len(list) == maxListed {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	out := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", out, count-maxListed)
	}
	return out
}

func endpointSlicePrinter() Printer {
	return newPrinter([]metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "AddressType", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]},
		{Name: "Ports", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]},
		{Name: "Endpoints", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
		ageColumn(),
	}, func(s *discoveryv1.EndpointSlice, now time.Time) []interface{} {
		return []interface{}{s.Name, string(s.AddressType), sliceFormatPorts(s.Ports), sliceFormatEndpoints(s.Endpoints), age(s.ObjectMeta, now)}
	})
}

// sliceFormatPorts lists port numbers, a port's name when it has no number,
// or "*" for a port with neither (all ports).
func sliceFormatPorts(ports []discoveryv1.EndpointPort) string {
	all := make([]string, 0, len(ports))
	for _, p := range ports {
		switch {
		case p.Port != nil:
			all = append(all, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			all = append(all, *p.Name)
		default:
			all = append(all, "*")
		}
	}
	return listWithMore(all)
}

// sliceFormatEndpoints lists every endpoint's addresses, ready or not.
func sliceFormatEndpoints(endpoints []discoveryv1.Endpoint) string {
	var all []string
	for _, e := range endpoints {
		all = append(all, e.Addresses...)
	}
	return listWithMore(all)
}

// listWithMore shows the first three items and "+ N more...", or "<unset>"
// for none.
func listWithMore(all []string) string {
	if len(all) > maxListed {
		return fmt.Sprintf("%s + %d more...", strings.Join(all[:maxListed], ","), len(all)-maxListed)
	}
	if len(all) == 0 {
		return "<unset>"
	}
	return strings.Join(all, ",")
}
