// Package cleanup stops and removes what a Skiff node leaves on its host when
// the node stops: `skiff killall` and `skiff uninstall`, after k3s's
// k3s-killall.sh and k3s-uninstall.sh. A stopped node keeps its pods running
// on purpose (the next start adopts them); Killall ends them and removes
// their traces (the containerd the agent supervised, its shims and the
// containers under them, the pods' network namespaces, cgroups and mounts,
// the bridge, routes, VXLAN device, nftables table, load balancer interface,
// portmap rules and address leases of the node's network) and keeps the data.
// Uninstall does that and removes the data directory and the kubeconfig the
// server wrote. Survey says what is left without touching it, for the message
// a stopping node prints, and StopContainerd finishes stopping the runtime
// for a node that exits before its agent did. Lock is what a running node
// holds so that neither Killall nor Uninstall runs under it.
//
// It must act only on what the node with the given data directory made:
// processes are found through the paths in their command lines, network
// namespaces and cgroups through the runtime's state in that directory, and
// the node's network is left alone when another Skiff node runs in the same
// network namespace or the bridge belongs to another node's pod CIDR. It
// never touches another containerd, a namespace, table or route skiff did not
// make, and it removes nothing while a server or agent runs on the directory.
package cleanup
