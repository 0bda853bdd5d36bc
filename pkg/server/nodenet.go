package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
)

// nodeSysctls are what the service proxy needs of a node: routing between the
// pod bridge and the node, and bridged pod-to-pod replies passing through the
// NAT so a Service's DNAT is undone (kube-proxy requires the same).
var nodeSysctls = []string{
	"/proc/sys/net/ipv4/ip_forward",
	"/proc/sys/net/bridge/bridge-nf-call-iptables",
}

// prepareNodeNetwork sets the sysctls, loading br_netfilter when the bridge one
// is missing.
func prepareNodeNetwork(log *slog.Logger) error {
	if _, err := os.Stat(nodeSysctls[1]); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			log.Warn("loading br_netfilter failed; pod-to-pod traffic through Services may not be un-NATed", "err", err, "output", string(out))
		}
	}
	for _, f := range nodeSysctls {
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			if errors.Is(err, os.ErrNotExist) && f == nodeSysctls[1] {
				continue
			}
			return fmt.Errorf("setting %s: %w", f, err)
		}
	}
	return nil
}
