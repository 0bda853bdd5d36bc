// Package proxy is the node's service proxy: it turns Services and
// EndpointSlices into nftables rules (ClusterIP, NodePort and LoadBalancer
// ingress DNAT, rejects for Services without ready endpoints, and masquerade
// only where a reply would otherwise miss the node), the way upstream
// kube-proxy's nftables mode does.
//
// It programs exactly one table of its own (ip skiff-proxy) through netlink and
// must never touch any other table, nor shell out to nft.
package proxy
