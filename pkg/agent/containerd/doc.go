// Package containerd runs the node's container runtime: it writes a containerd
// configuration under the agent's data directory (its own root, state, sockets,
// runc root, CNI directories, snapshotter and the Skiff pause image as the
// sandbox image), starts the Debian package's /usr/bin/containerd with it,
// restarts it with back-off when it dies, and stops it on shutdown. It also
// knows how to remove every trace of a runtime it ran (Purge), for tests and
// uninstalls.
//
// It must not talk CRI beyond checking that the runtime answers, and it must
// not touch a containerd it did not start: everything it writes or kills is
// found through its own data directory.
package containerd
