// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector it keeps discovery.k8s.io/v1 EndpointSlices (named
// SERVICE-xxxxx, labelled kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io,
// controlled by the Service) listing each matching pod's address with its
// ready/serving/terminating conditions, one group of slices per distinct set
// of resolved ports, at most MaxEndpointsPerSlice endpoints each, changing as
// few slices as it can on each sync, as kube-controller-manager's
// endpointslice-controller does.
//
// It works only through the API (client-go informers, listers and a
// rate-limited workqueue). It must not touch slices another manager owns
// (mirrored or user-made ones, such as the kubernetes Service's), must not
// write when nothing changed, and must not act on a slice cache older than its
// own last write (that would duplicate slices).
package endpointslice
