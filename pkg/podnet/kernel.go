package podnet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/pkg/agent/netns"
)

// handle is a netlink connection whose socket lives in the node's network
// namespace, whatever thread later uses it.
type handle = *netlink.Handle

func (n *Network) withHandle(fn func(h handle) error) error {
	return withHandle(n.opts.NetNS, fn)
}

// withHandle runs fn with a handle in the namespace at path (empty: ours).
func withHandle(path string, fn func(h handle) error) error {
	var h handle
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

// dump retries a netlink dump the kernel interrupted because the table
// changed under it.
func dump[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range 5 {
		if v, err = fn(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return v, err
}

// linkWithAddr is the link that holds ip.
func linkWithAddr(h handle, ip netip.Addr) (netlink.Link, error) {
	addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IP.Equal(net.IP(ip.AsSlice())) {
			return h.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("node IP %s is not an address of any link in this network namespace; give the node's own address (--node-ip)", ip)
}

// enableForwarding turns on IPv4 forwarding, without which the node never
// passes pod traffic between its bridge and the other nodes.
func (n *Network) enableForwarding() error {
	const path = "/proc/sys/net/ipv4/ip_forward"
	return netns.Do(n.opts.NetNS, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enabling IPv4 forwarding: %w", err)
		}
		n.log.Info("enabled IPv4 forwarding (net.ipv4.ip_forward=1)")
		return nil
	})
}

// ownedRoutes lists the routes podnet made: main table, RouteProtocol.
func ownedRoutes(h handle) ([]netlink.Route, error) {
	filter := &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
	return dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	})
}

// route is one route podnet wants, and the node it leads to.
type route struct {
	node string
	netlink.Route
}

func sameRoute(a, b netlink.Route) bool {
	return a.Dst != nil && b.Dst != nil && a.Dst.String() == b.Dst.String() &&
		a.Gw.Equal(b.Gw) && a.LinkIndex == b.LinkIndex &&
		a.Flags&unix.RTNH_F_ONLINK == b.Flags&unix.RTNH_F_ONLINK
}

// syncRoutes makes podnet's routes exactly want: it adds the missing ones,
// fixes the changed ones and deletes the rest. A route to the same
// destination that someone else made is left alone, and reported by node.
func syncRoutes(h handle, want []route, log *slog.Logger) (conflicts map[string]string, err error) {
	have, err := ownedRoutes(h)
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	byDst := map[string]netlink.Route{}
	for _, r := range have {
		if r.Dst != nil {
			byDst[r.Dst.String()] = r
		}
	}
	conflicts = map[string]string{}
	var errs []error
	wanted := map[string]bool{}
	for _, w := range want {
		w.Protocol, w.Table, w.Scope = RouteProtocol, unix.RT_TABLE_MAIN, netlink.SCOPE_UNIVERSE
		dst := w.Dst.String()
		wanted[dst] = true
		old, ok := byDst[dst]
		switch {
		case ok && sameRoute(old, w.Route):
			continue
		case ok:
			err = h.RouteReplace(&w.Route)
		default:
			err = h.RouteAdd(&w.Route)
			if errors.Is(err, unix.EEXIST) {
				conflicts[w.node] = fmt.Sprintf("a route to %s that skiff did not make is in the way; remove it to let pods reach node %q", dst, w.node)
				continue
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s for node %q: %w", dst, w.Gw, w.node, err))
			continue
		}
		log.Debug("route set", "node", w.node, "dst", dst, "via", w.Gw)
	}
	for dst, r := range byDst {
		if wanted[dst] {
			continue
		}
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("deleting route %s: %w", dst, err))
			continue
		}
		log.Debug("route deleted", "dst", dst, "via", r.Gw)
	}
	return conflicts, errors.Join(errs...)
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
