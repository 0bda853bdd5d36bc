package cleanup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/agent/netns"
	"github.com/skiffhq/skiff/pkg/podnet"
	"github.com/skiffhq/skiff/pkg/proxy"
)

// network is what the node's network namespace holds that a Skiff node made:
// the pods' bridge and the veths on it (the CNI bridge plugin's), podnet's
// routes and VXLAN device, the proxy's nftables table and load balancer
// interface.
type network struct {
	links  []netlink.Link // veths on the bridge first, then the bridge and the others
	routes []netlink.Route
	table  bool // the proxy's nftables table exists
	// foreign, when set, says why the network is not this node's to remove.
	foreign string
}

// empty is true when there is nothing to remove.
func (n network) empty() bool { return len(n.links) == 0 && len(n.routes) == 0 && !n.table }

// names describes what the network holds, for messages.
func (n network) names() []string {
	var out []string
	for _, l := range n.links {
		if l.Attrs().Name == agent.BridgeName || l.Type() != "veth" {
			out = append(out, fmt.Sprintf("%s %s", linkKind(l), l.Attrs().Name))
		}
	}
	if len(n.routes) > 0 {
		out = append(out, fmt.Sprintf("%d route(s) to other nodes' pods", len(n.routes)))
	}
	if n.table {
		out = append(out, "nftables table ip "+proxy.TableName)
	}
	return out
}

func linkKind(l netlink.Link) string {
	switch l.Attrs().Name {
	case agent.BridgeName:
		return "bridge"
	case proxy.LBInterface:
		return "load balancer interface"
	case podnet.VXLANDevice:
		return "VXLAN device"
	}
	return l.Type() + " interface"
}

// surveyNetwork finds the node network of dataDir in the namespace at nsPath
// ("" for ours). A data directory that never ran a node agent has none; one
// whose namespace another running Skiff node shares, or whose bridge serves
// another pod CIDR, is reported as foreign.
func surveyNetwork(dataDir, nsPath string) (network, error) {
	var n network
	if _, err := os.Stat(filepath.Join(dataDir, "agent")); err != nil {
		return n, nil
	}
	err := withHandle(nsPath, func(h *netlink.Handle) error {
		links, err := h.LinkList()
		if err != nil {
			return fmt.Errorf("listing interfaces: %w", err)
		}
		var bridge netlink.Link
		for _, l := range links {
			if l.Attrs().Name == agent.BridgeName {
				bridge = l
			}
		}
		if bridge != nil {
			for _, l := range links {
				if l.Attrs().MasterIndex == bridge.Attrs().Index && l.Type() == "veth" {
					n.links = append(n.links, l)
				}
			}
			n.links = append(n.links, bridge)
			if why := foreignBridge(h, bridge, dataDir); why != "" {
				n.foreign = why
			}
		}
		for _, l := range links {
			if name := l.Attrs().Name; name == podnet.VXLANDevice || name == proxy.LBInterface {
				n.links = append(n.links, l)
			}
		}
		filter := &netlink.Route{Protocol: podnet.RouteProtocol, Table: unix.RT_TABLE_MAIN}
		n.routes, err = h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return fmt.Errorf("listing routes: %w", err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	n.table, err = hasTable(nsPath)
	if err != nil {
		return n, err
	}
	if n.foreign == "" {
		n.foreign = sharedNetNS(dataDir, nsPath)
	}
	return n, nil
}

// foreignBridge says why the bridge is another node's: none of its addresses
// is in this node's pod CIDR (the gateway the CNI bridge plugin gives it).
func foreignBridge(h *netlink.Handle, bridge netlink.Link, dataDir string) string {
	subnet := podCIDR(dataDir)
	if subnet == nil {
		return ""
	}
	addrs, err := h.AddrList(bridge, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		if subnet.Contains(a.IP) {
			return ""
		}
	}
	return fmt.Sprintf("bridge %s has %s, which is not in this node's pod CIDR %s: it is another Skiff node's", agent.BridgeName, addrs[0].IPNet, subnet)
}

// podCIDR reads the node's pod CIDR from the CNI configuration its agent wrote.
func podCIDR(dataDir string) *net.IPNet {
	b, err := os.ReadFile(filepath.Join(agent.CNIConfDir(dataDir), agent.CNIConfFile))
	if err != nil {
		return nil
	}
	var conf struct {
		Plugins []struct {
			IPAM struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal(b, &conf) != nil {
		return nil
	}
	for _, p := range conf.Plugins {
		for _, r := range p.IPAM.Ranges {
			for _, s := range r {
				if _, n, err := net.ParseCIDR(s.Subnet); err == nil {
					return n
				}
			}
		}
	}
	return nil
}

// sharedNetNS says which other running Skiff node uses the network namespace
// at nsPath, if one does.
func sharedNetNS(dataDir, nsPath string) string {
	if nsPath == "" {
		nsPath = "/proc/self/ns/net"
	}
	ino := netnsInode(nsPath)
	for _, h := range lockHolders() {
		if h.dir != dataDir && h.netns == ino {
			return fmt.Sprintf("%s (pid %d, data directory %s) runs in the same network namespace", h.command, h.pid, h.dir)
		}
	}
	return ""
}

// remove deletes what the survey found, and reports each thing removed.
func (n network) remove(nsPath string, report func(string, ...any)) error {
	var errs []error
	err := withHandle(nsPath, func(h *netlink.Handle) error {
		for _, r := range n.routes {
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("deleting route %s: %w", r, err))
				continue
			}
			report("deleted route %s", describeRoute(h, r))
		}
		for _, l := range n.links {
			if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", l.Attrs().Name, err))
				continue
			}
			report("deleted %s", fmt.Sprintf("%s %s", linkKind(l), l.Attrs().Name))
		}
		return nil
	})
	errs = append(errs, err)
	if n.table {
		if err := deleteTable(nsPath); err != nil {
			errs = append(errs, err)
		} else {
			report("deleted nftables table ip %s", proxy.TableName)
		}
	}
	return errors.Join(errs...)
}

func describeRoute(h *netlink.Handle, r netlink.Route) string {
	s := r.Dst.String()
	if r.Gw != nil {
		s += " via " + r.Gw.String()
	}
	if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
		s += " dev " + l.Attrs().Name
	}
	return s
}

// withHandle runs fn with a netlink handle whose socket is in the namespace
// at path ("" for ours).
func withHandle(path string, fn func(h *netlink.Handle) error) error {
	var h *netlink.Handle
	err := netns.Do(path, func() (err error) {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	return fn(h)
}

func nftConn(path string) (*nftables.Conn, func(), error) {
	if path == "" {
		c, err := nftables.New()
		return c, func() {}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { f.Close() }, nil
}

func hasTable(path string) (bool, error) {
	c, done, err := nftConn(path)
	if err != nil {
		return false, err
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("listing nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == proxy.TableName {
			return true, nil
		}
	}
	return false, nil
}

func deleteTable(path string) error {
	c, done, err := nftConn(path)
	if err != nil {
		return err
	}
	defer done()
	c.DelTable(&nftables.Table{Name: proxy.TableName, Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting nftables table ip %s: %w", proxy.TableName, err)
	}
	return nil
}

// sortedKeys is a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
