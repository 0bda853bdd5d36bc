package discovery

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// EndpointSlice prints NAME, ADDRESSTYPE, PORTS, ENDPOINTS and AGE.
func EndpointSlice() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "AddressType", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]},
		{Name: "Ports", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]},
		{Name: "Endpoints", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
		printers.AgeColumn(),
	}, func(s *discoveryv1.EndpointSlice, now time.Time) []interface{} {
		return []interface{}{s.Name, string(s.AddressType), sliceFormatPorts(s.Ports), sliceFormatEndpoints(s.Endpoints), printers.Age(s.ObjectMeta, now)}
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
	if len(all) > printers.MaxListed {
		return fmt.Sprintf("%s + %d more...", strings.Join(all[:printers.MaxListed], ","), len(all)-printers.MaxListed)
	}
	if len(all) == 0 {
		return "<unset>"
	}
	return strings.Join(all, ",")
}
