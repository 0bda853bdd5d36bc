// Package proxy is the node's service proxy: it turns Services and
// EndpointSlices into nftables rules (ClusterIP, NodePort and LoadBalancer
// ingress DNAT, session affinity, externalTrafficPolicy and
// internalTrafficPolicy: Local, rejects for Services without ready
// endpoints, and masquerade only where a reply would otherwise miss the
// node), the way upstream kube-proxy's nftables mode does.
// It also serves the health check node port of every externalTrafficPolicy:
// Local LoadBalancer, which tells load balancers whether this node has a
// ready endpoint.
//
// It programs exactly one table of its own (ip skiff-proxy) through netlink,
// rewriting only what changed since its last sync and reconciling, not
// replacing, what a previous run left; and it owns one interface (skiff-lb)
// that holds LoadBalancer addresses that are not the node's. It must never
// touch any other table, address or interface, nor shell out to nft or ip.
package proxy
