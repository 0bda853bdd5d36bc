package cleanup

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Leftovers is what a stopped node left on its host.
type Leftovers struct {
	// Containerd are containerd processes still running (the agent stops
	// the one it supervised, unless it was killed).
	Containerd []int
	// Pods are the pods (NAMESPACE/NAME) whose sandbox runs, served by
	// Shims shims and made of Containers processes, in NetNS network
	// namespaces.
	Pods                     []string
	Shims, Containers, NetNS int
	// Network names what the node's network holds: "bridge skiff0",
	// "nftables table ip skiff-proxy", ...
	Network []string
}

// Empty is true when the node left nothing.
func (l Leftovers) Empty() bool {
	return len(l.Containerd) == 0 && len(l.Pods) == 0 && l.Shims == 0 && l.Containers == 0 && l.NetNS == 0 && len(l.Network) == 0
}

// Survey finds what the node whose data directory is dataDir left, changing
// nothing; nsPath is its network namespace ("" for ours).
func Survey(dataDir, nsPath string) (Leftovers, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Leftovers{}, err
	}
	rt := surveyRuntime(abs, nodeNetNS(nsPath))
	l := Leftovers{
		Containerd: rt.containerd,
		Pods:       rt.runningPods(),
		Shims:      len(rt.shims),
		Containers: len(rt.containers),
		NetNS:      len(rt.podNetNS),
	}
	nw, err := surveyNetwork(abs, nsPath)
	if nw.foreign == "" {
		l.Network = nw.names()
	}
	return l, err
}

// Note is what a node prints when it stops: what it left running and why,
// and the command that removes it (command is how the user runs skiff).
func (l Leftovers) Note(command, dataDir string) string {
	if l.Empty() {
		return "Skiff stopped; nothing of this node is left running.\n"
	}
	var b strings.Builder
	b.WriteString("Skiff stopped. Still running on purpose, so that the next start adopts the pods instead of restarting them:\n")
	if len(l.Containerd) > 0 {
		fmt.Fprintf(&b, "  containerd (pid %s)\n", joinInts(l.Containerd))
	}
	if len(l.Pods) > 0 || l.Shims > 0 || l.Containers > 0 {
		pods := fmt.Sprintf("%d pod(s)", len(l.Pods))
		if len(l.Pods) > 0 {
			pods += " (" + listNames(l.Pods) + ")"
		}
		fmt.Fprintf(&b, "  %s: %d container process(es) under %d containerd shim(s), in %d network namespace(s)\n",
			pods, l.Containers, l.Shims, l.NetNS)
	} else if l.NetNS > 0 {
		fmt.Fprintf(&b, "  %d pod network namespace(s)\n", l.NetNS)
	}
	if len(l.Network) > 0 {
		fmt.Fprintf(&b, "  the node's network: %s\n", strings.Join(l.Network, ", "))
	}
	cmd := command + " killall"
	if filepath.Clean(dataDir) != DefaultDataDir {
		cmd += " --data-dir " + dataDir
	}
	fmt.Fprintf(&b, "To stop them and remove their traces, keeping the data in %s: %s\n", dataDir, cmd)
	return b.String()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
