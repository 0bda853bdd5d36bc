// Package backends decides which pods stand behind a Service and on which
// ports, for the two controllers that publish them (endpoints and
// endpointslice): which pods belong in the endpoints, their readiness, how a
// Service port's targetPort resolves against a pod, which Services a pod
// change concerns, the last-change-trigger-time annotation, and the
// bookkeeping that keeps a controller from acting on a cache older than its
// own last write.
//
// It is logic over API objects and lister caches: it must not call the API
// server or start goroutines, and its trackers hold only what the controller
// that owns them feeds them.
package backends
