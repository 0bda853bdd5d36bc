// Package csrsigning is the CSR signing controller: it issues, with the
// cluster CA, the certificates that approved certificate signing requests
// ask of the signers Kubernetes names, as kube-controller-manager's
// csrsigning controller does for kubernetes.io/kube-apiserver-client,
// kubernetes.io/kube-apiserver-client-kubelet, kubernetes.io/kubelet-serving
// and kubernetes.io/legacy-unknown.
//
// A request is signed once it is approved, not denied, not failed and has
// no certificate. Each signer first checks the request is one it may sign
// (a kubelet's client certificate names a node in system:nodes, a serving
// certificate has server names, ...); one that is not gets a Failed
// condition saying why. The certificate lasts what the request asked
// (spec.expirationSeconds, at least ten minutes), at most the cluster's
// signing duration, and is backdated five minutes for clocks that run behind.
//
// It works only through the API, with a client-go informer and a workqueue.
// It must not approve or deny requests (that is the approver's decision),
// sign for any other signer name, or sign a request twice.
package csrsigning
