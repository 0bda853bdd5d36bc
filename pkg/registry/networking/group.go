// Package networking declares the kinds of the networking.k8s.io API group,
// one file per kind: ingresses and ingress classes (how HTTP reaches
// Services, for an ingress controller to carry out), network policies, and
// service CIDRs and IP addresses (the ranges ClusterIPs come from and the
// addresses taken from them).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage. It serves these
// kinds as an API only: Skiff does not enforce NetworkPolicies yet (no
// packet is filtered by them) and ships no ingress controller. The Service
// allocator does not read ServiceCIDRs; it counts IPAddresses as taken, and
// the ipaddress controller keeps one per ClusterIP.
package networking

import (
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = networkingv1.SchemeGroupVersion
)

// Resources returns every kind of the networking.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
