// Package ipaddress is the ClusterIP bookkeeping controller: every address a
// Service holds (spec.clusterIPs, headless Services have none) gets a
// networking.k8s.io/v1 IPAddress named by the address, labelled with its
// family and as managed by ipallocator.k8s.io, whose parentRef names the
// Service, as upstream's MultiCIDRServiceAllocator keeps them; and such an
// IPAddress goes once its Service is gone or no longer holds the address.
// The Service allocator in the API server counts every IPAddress as taken,
// so an address someone reserves by creating one is not handed out.
//
// Where upstream's allocator writes the IPAddress in the same request as the
// Service, Skiff's allocates from the stored Services and this controller
// writes it a moment later; it plays the part of upstream's repair loop
// (repairip.go) for the rest.
//
// It works only through the API (client-go informers, listers and a
// workqueue), so it can also run out of process. It must not change or
// delete an IPAddress another manager made, even one on a Service's address
// (it logs the clash instead), and it does not allocate addresses.
package ipaddress
