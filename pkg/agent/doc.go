// Package agent is Skiff's node agent, the kubelet: it registers this host as a
// Node, keeps the node's Lease and status fresh, writes the CNI configuration
// for the node's pod CIDR, and runs every pod bound to the node through the
// CRI against containerd (which it supervises, unless told to use an existing
// runtime). A pod new to the node is admitted first, as a kubelet admits it
// (host ports, node name, node selector and affinity, NoExecute taints,
// resources against allocatable, in order of creation); a refused pod is
// posted Failed with upstream's reason and message and never runs. Admitted
// pods get sandboxes with the pod's IP and hostname, images by pull policy,
// containers with their command, environment, mounts and resources, restart
// policy with exponential back-off, probes, graceful termination, and the
// pod's status as upstream reports it. When restarted it adopts the pods
// already running instead of recreating them.
//
// The agent talks to the cluster through the Kubernetes API alone, and only
// about its own Node, its own Lease, the pods bound to it and what they
// reference (config maps, secrets, services). All of its runtime state lives
// in the CRI (labels and annotations on sandboxes and containers) so that a
// new agent process can take over from an old one.
package agent
