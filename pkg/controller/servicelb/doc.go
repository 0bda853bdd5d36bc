// Package servicelb is Skiff's load-balancer controller: it gives every
// Service of type LoadBalancer an address in status.loadBalancer.ingress, so
// `kubectl get svc` shows an EXTERNAL-IP instead of <pending>. By default the
// addresses are those of the Ready nodes, as k3s's ServiceLB does (their
// ExternalIPs when any node has one, else their InternalIPs; for
// externalTrafficPolicy Local only the nodes running a ready endpoint),
// following nodes as they come and go. With a pool (skiff server --lb-pool)
// each Service instead gets a dedicated address of its own from the pool,
// held while the Service uses it and recovered from the Services' status after
// a restart. It records upstream's service-controller events
// (EnsuringLoadBalancer, EnsuredLoadBalancer, ...).
//
// It only writes Service status through the API. It must not touch Services
// that name a loadBalancerClass (another implementation owns them), must not
// hand one pool address to two Services, and must not program the data plane
// (the proxy does that from the status it writes).
package servicelb
