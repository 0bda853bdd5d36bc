package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/labels"
)

// LBInterface is the dummy interface (a bridge without ports where the kernel
// has no dummy driver) that holds the LoadBalancer ingress
// addresses that are not the node's own (from `skiff server --lb-pool`), so
// the node answers them: locally, and to ARP from hosts on its links. It is
// the proxy's, like kube-proxy's kube-ipvs0: addresses on it come and go with
// the Services, and Cleanup removes it.
const LBInterface = "skiff-lb"

// route is an rtnetlink connection in the proxy's network namespace.
type route struct{ c *netlink.Conn }

func (p *Proxy) route() (*route, error) {
	cfg := &netlink.Config{}
	if p.opts.NetNSPath != "" {
		f, err := os.Open(p.opts.NetNSPath)
		if err != nil {
			return nil, fmt.Errorf("opening network namespace: %w", err)
		}
		defer f.Close()
		cfg.NetNS = int(f.Fd())
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &route{c: c}, nil
}

func (r *route) Close() error { return r.c.Close() }

func ifInfomsg(index int32, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

func (r *route) do(typ uint16, flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	return r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | flags},
		Data:   data,
	})
}

// linkIndex is the index of the interface name, 0 when there is none.
func (r *route) linkIndex(name string) (int32, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	attrs, err := ae.Encode()
	if err != nil {
		return 0, err
	}
	msgs, err := r.do(unix.RTM_GETLINK, 0, append(ifInfomsg(0, 0, 0), attrs...))
	if errors.Is(err, unix.ENODEV) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("looking up interface %s: %w", name, err)
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return 0, fmt.Errorf("looking up interface %s: unexpected answer", name)
	}
	return int32(binary.NativeEndian.Uint32(msgs[0].Data[4:8])), nil
}

// ensureDummy creates the interface name (if missing) as a dummy, or, on
// kernels built without dummy interfaces, as a bridge without ports (which
// holds addresses just as well); sets it up; and returns its index.
func (r *route) ensureDummy(name string) (int32, error) {
	idx, err := r.linkIndex(name)
	if err != nil || idx != 0 {
		return idx, err
	}
	for _, kind := range []string{"dummy", "bridge"} {
		ae := netlink.NewAttributeEncoder()
		ae.String(unix.IFLA_IFNAME, name)
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, kind)
			return nil
		})
		attrs, err := ae.Encode()
		if err != nil {
			return 0, err
		}
		data := append(ifInfomsg(0, unix.IFF_UP, unix.IFF_UP), attrs...)
		_, err = r.do(unix.RTM_NEWLINK, netlink.Acknowledge|netlink.Create|netlink.Excl, data)
		if errors.Is(err, unix.EOPNOTSUPP) && kind == "dummy" {
			continue
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("creating %s interface %s: %w", kind, name, err)
		}
		break
	}
	if idx, err = r.linkIndex(name); err == nil && idx == 0 {
		err = fmt.Errorf("dummy interface %s vanished after creation", name)
	}
	return idx, err
}

func (r *route) deleteLink(name string) error {
	idx, err := r.linkIndex(name)
	if err != nil || idx == 0 {
		return err
	}
	if _, err := r.do(unix.RTM_DELLINK, netlink.Acknowledge, ifInfomsg(idx, 0, 0)); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting interface %s: %w", name, err)
	}
	return nil
}

// addrs lists the IPv4 addresses on interface index.
func (r *route) addrs(index int32) ([]netip.Addr, error) {
	msgs, err := r.do(unix.RTM_GETADDR, netlink.Dump, []byte{unix.AF_INET, 0, 0, 0, 0, 0, 0, 0})
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []netip.Addr
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofIfAddrmsg || int32(binary.NativeEndian.Uint32(m.Data[4:8])) != index {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfAddrmsg:])
		if err != nil {
			return nil, err
		}
		for ad.Next() {
			if ad.Type() == unix.IFA_LOCAL {
				if a, ok := netip.AddrFromSlice(ad.Bytes()); ok {
					out = append(out, a)
				}
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *route) addr(op uint16, flags netlink.HeaderFlags, index int32, a netip.Addr) error {
	msg := []byte{unix.AF_INET, 32, 0, unix.RT_SCOPE_UNIVERSE, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(msg[4:], uint32(index))
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.IFA_LOCAL, a.AsSlice())
	ae.Bytes(unix.IFA_ADDRESS, a.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.do(op, netlink.Acknowledge|flags, append(msg, attrs...))
	return err
}

// syncLBAddresses makes want exactly the addresses on LBInterface, creating
// the interface when it has something to hold.
func (p *Proxy) syncLBAddresses(want []netip.Addr) error {
	nodeAddrs := map[netip.Addr]bool{}
	for _, a := range p.nodeIPs {
		nodeAddrs[a] = true
	}
	if p.nodes != nil {
		nodes, err := p.nodes.List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing nodes: %w", err)
		}
		for _, n := range nodes {
			for _, na := range n.Status.Addresses {
				if a, err := netip.ParseAddr(na.Address); err == nil {
					nodeAddrs[a.Unmap()] = true
				}
			}
		}
	}
	want = slices.DeleteFunc(slices.Clone(want), func(a netip.Addr) bool { return nodeAddrs[a] })
	r, err := p.route()
	if err != nil {
		return err
	}
	defer r.Close()
	var idx int32
	if len(want) == 0 {
		if idx, err = r.linkIndex(LBInterface); err != nil || idx == 0 {
			return err
		}
	} else if idx, err = r.ensureDummy(LBInterface); err != nil {
		return err
	}
	have, err := r.addrs(idx)
	if err != nil {
		return err
	}
	for _, a := range have {
		if !slices.Contains(want, a) {
			if err := r.addr(unix.RTM_DELADDR, 0, idx, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("removing %s from %s: %w", a, LBInterface, err)
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			if err := r.addr(unix.RTM_NEWADDR, netlink.Create|netlink.Replace, idx, a); err != nil {
				return fmt.Errorf("adding %s to %s: %w", a, LBInterface, err)
			}
		}
	}
	return nil
}
