// Package endpointslicemirroring is the EndpointSlice mirroring controller:
// for every Endpoints object whose Service exists and has no selector (hand-
// written endpoints), it keeps discovery.k8s.io/v1 EndpointSlices with the
// same addresses, so that consumers that read only slices (the service proxy)
// see them, as kube-controller-manager's endpointslicemirroring-controller
// does. The subsets are first regrouped as the API canonicalizes them; each
// address type of each resulting port set gets one slice (named SERVICE-xxxxx,
// labelled kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io,
// controlled by the Endpoints, carrying its labels and annotations) of at most
// MaxEndpointsPerSubset addresses.
//
// It works only through the API (client-go informers, listers and a
// rate-limited workqueue). It must not mirror Endpoints labelled
// endpointslice.kubernetes.io/skip-mirror=true, Endpoints holding a leader
// election record, or those of a Service with a selector (the endpointslice
// controller publishes those from the pods); it must not touch slices it does
// not manage, and must not act on a slice cache older than its own last write.
package endpointslicemirroring
