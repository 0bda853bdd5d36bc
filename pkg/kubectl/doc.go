// Package kubectl is the kubectl that ships inside the skiff binary: the upstream
// command tree from k8s.io/kubectl, built as a library the way k3s embeds it, with
// two additions and nothing else changed.
//
//   - When neither --kubeconfig nor KUBECONFIG names a kubeconfig, it uses the
//     local server's (for example /var/lib/skiff/kubeconfig.yaml) if that file can
//     be read, and upstream's loading rules (~/.kube/config) otherwise.
//   - `run --generator=run/v1`, which kubectl dropped in 1.18, creates a
//     ReplicationController as kubectl 1.17 did, so the seed's commands work as
//     written. `--generator=run-pod/v1` and no generator at all are upstream's
//     `run`, which creates a Pod.
//
// NewCommand gives the tree to mount under `skiff kubectl`; Main runs it as a whole
// program when the binary is invoked through a link named kubectl.
//
// This package must not reimplement kubectl: every other command, flag, message and
// exit code is upstream's, and a change here that a user of real kubectl would
// notice, other than the two above, is a bug.
package kubectl
