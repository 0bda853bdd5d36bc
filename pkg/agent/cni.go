package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The pod network's CNI configuration: CNIConfFile, in CNIConfDir, is the one
// network configuration the runtime loads; it names the network CNINetwork,
// under which host-local keeps its leases (CNIIPAMDir/CNINetwork/IP) and the
// runtime caches results.
const (
	CNIConfFile = "10-skiff.conflist"
	CNINetwork  = "skiff"
)

// CNIConfDir is the runtime's CNI conf_dir for the node whose data directory
// is dataDir.
func CNIConfDir(dataDir string) string { return filepath.Join(dataDir, "agent", "cni", "net.d") }

// CNIIPAMDir is where host-local keeps the pod addresses it leased.
func CNIIPAMDir(dataDir string) string { return filepath.Join(dataDir, "agent", "cni", "ipam") }

// cniConfig is the pod network of a node: pods hang off the skiff0 bridge,
// which is their gateway, with addresses from the node's pod CIDR. No
// masquerading: pods reach pods (on every node) by their own IPs; the proxy
// masquerades what leaves the cluster. portmap serves hostPort. (The CRI
// plugin sets up each pod's loopback itself, with the loopback plugin.) A
// non-zero mtu sets the bridge's and the pods' MTU (an overlay needs room for
// its headers); zero leaves the link default.
func cniConfig(podCIDR, ipamDir string, mtu int) ([]byte, error) {
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      BridgeName,
		"isGateway":   true,
		"ipMasq":      false,
		"hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": ipamDir,
		},
	}
	if mtu > 0 {
		bridge["mtu"] = mtu
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       CNINetwork,
		"plugins": []any{
			bridge,
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
				"snat":         true,
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// WriteCNIConfig writes the pod network's configuration for podCIDR into
// confDir (the runtime's CNI conf_dir), with host-local keeping its leases in
// ipamDir, and the pods' MTU (0: the link default). The file is replaced
// atomically: the runtime watches the directory and must never read half a file.
func WriteCNIConfig(confDir, ipamDir, podCIDR string, mtu int) error {
	b, err := cniConfig(podCIDR, ipamDir, mtu)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	if err := os.MkdirAll(ipamDir, 0o700); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	path := filepath.Join(confDir, CNIConfFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	return os.Rename(tmp, path)
}
