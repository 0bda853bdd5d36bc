// Package clusterdns is the cluster DNS endpoints controller. Every real node
// runs a DNS server on the first address of its pod CIDR and, once it serves,
// says so in its Node's skiff.io/cluster-dns annotation. This controller keeps
// the one EndpointSlice of the kube-system/kube-dns Service (which has no
// selector) listing those servers: one endpoint per annotated Node, addressed
// by the annotation, named after the node and ready while the node is Ready.
// The Service's internalTrafficPolicy Local then sends each pod's queries to
// its own node's server. Service defines that Service, so that the server's
// bootstrap and this controller agree on its name and ports.
//
// It works only through the API (client-go informers, listers and a
// workqueue), so it can also run out of process. It must not touch any
// EndpointSlice but its own, nor write when the slice already says what it
// should; it does not start or probe DNS servers (the node agent does).
package clusterdns
