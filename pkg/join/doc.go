// Package join lets a worker host join a cluster with nothing but the server's
// URL and a join token: the token carries a hash of the cluster CA, so the
// worker verifies the server before it sends it anything secret (as kubeadm's
// discovery hash and k3s's K10 tokens do), then trades the token's secret for
// its node credentials. A node name stays with the host that joined under it,
// and an address that keeps failing to join is made to wait. It holds both
// sides, the server's handler and the worker's client. It must not run or
// configure the node itself.
package join
