// Package rootcacert is the root CA certificate publisher: every active
// namespace gets the ConfigMap kube-root-ca.crt holding the cluster CA bundle
// under ca.crt, recreated if it is deleted and put back if its data or its
// description are edited, as upstream's root-ca-cert-publisher controller in
// kube-controller-manager does. Pods (and upstream's e2e framework, before
// every test) read it to verify the API server at kubernetes.default.svc.
//
// It works only through the API (informers and the typed client), so it can
// also run out of process. It watches ConfigMaps of that one name only, must
// not touch any other ConfigMap, and must not create anything in a namespace
// that is terminating.
package rootcacert
