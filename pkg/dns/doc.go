// Package dns is the cluster's DNS server: it answers the names of the
// Kubernetes DNS specification (Services, headless endpoints, pods, and the
// reverse names of both) for the cluster domain from informers over Services
// and EndpointSlices, and forwards every other name to the node's own
// resolvers through a small bounded cache.
//
// It runs on every real node, on the first address of the node's pod CIDR;
// the kube-dns Service (internalTrafficPolicy Local) brings each node's pods
// to their own node's server. It must not write to the API, and must never
// forward a name of the cluster domain: those are answered here, or denied.
package dns
