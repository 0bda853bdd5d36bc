// Package etcdmember runs an etcd member inside a Skiff server, so that
// several servers can keep the cluster's state in one replicated etcd without
// an etcd installed beside them (as k3s's --cluster-init does). It issues the
// member's certificates from the CA it is given (EnsureCerts), starts and stops
// the member (Start, Member), grows and shrinks the etcd cluster as servers
// join and leave (AddLearner, PromoteWhenReady, Remove, Members), and saves,
// lists, prunes and restores snapshots (Save, List, Prune, Restore, Scheduler).
//
// Every port it opens speaks TLS and requires a client certificate signed by
// that CA, on the peer port as on the client port: a member never serves in
// the clear, and a host that does not hold a certificate from this CA can
// neither read the data nor take part in the cluster. etcd's own
// authentication stays off, so the CA must sign nothing but members'
// certificates (Skiff gives etcd a CA of its own, apart from the cluster CA,
// which signs nodes' and users' certificates).
//
// It must not read or write Kubernetes objects (that is pkg/storage's job,
// over the client a Member hands out), compact the keyspace (the storage layer
// decides when history may go, so the member runs with auto compaction off),
// decide on its own to add, promote or remove members (the server that handles
// a join asks for that), or delete a data directory: a restore needs a fresh
// one, and moving the old one aside is left to a human or the caller.
package etcdmember
