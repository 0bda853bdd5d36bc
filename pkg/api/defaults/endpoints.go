package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// Endpoints defaults an Endpoints object: ports are TCP unless stated.
func Endpoints(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if p := &e.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
		}
	}
}
