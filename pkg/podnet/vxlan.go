package podnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// syncVXLAN keeps this node's tunnel up and its MAC published, and for each
// peer: an FDB entry (peer's MAC → peer's InternalIP: where to send the
// encapsulated frame), a permanent neighbour (peer's endpoint address →
// peer's MAC: no ARP across the tunnel, learning is off) and a route
// (pod CIDR via the endpoint address, onlink through the tunnel).
func (n *Network) syncVXLAN(ctx context.Context, h handle, self *corev1.Node, peers []peer, problems map[string]string) error {
	if self == nil {
		return fmt.Errorf("waiting for node %q to be registered", n.opts.NodeName)
	}
	own := podCIDROf(self)
	if !own.IsValid() {
		return fmt.Errorf("waiting for node %q to be given a pod CIDR", n.opts.NodeName)
	}
	vx, err := n.ensureVXLAN(h, own)
	if err != nil {
		return err
	}
	mac := vx.Attrs().HardwareAddr.String()
	// Until the informer shows our own patch, the Node it holds (same
	// resourceVersion as when we patched) is stale, not wrong.
	stale := n.published == [2]string{mac, self.ResourceVersion}
	if self.Annotations[VXLANMACAnnotation] != mac && !stale {
		if err := n.publishMAC(ctx, mac); err != nil {
			return err
		}
		n.published = [2]string{mac, self.ResourceVersion}
	}
	idx := vx.Attrs().Index

	// Entries before routes, so that no route leads into the tunnel to an
	// endpoint the kernel cannot resolve yet.
	var errs []error
	var want []route
	wantNeigh := map[netip.Addr]string{}
	wantFDB := map[string]netip.Addr{}
	for _, p := range peers {
		fdb := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: p.nodeIP.AsSlice(), HardwareAddr: p.mac}
		neigh := &netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			Type: unix.RTN_UNICAST, IP: p.vtep().AsSlice(), HardwareAddr: p.mac}
		if err := h.NeighSet(fdb); err != nil {
			errs = append(errs, fmt.Errorf("FDB entry %s dst %s for node %q: %w", p.mac, p.nodeIP, p.name, err))
			continue
		}
		if err := h.NeighSet(neigh); err != nil {
			errs = append(errs, fmt.Errorf("neighbour %s lladdr %s for node %q: %w", p.vtep(), p.mac, p.name, err))
			continue
		}
		wantFDB[p.mac.String()] = p.nodeIP
		wantNeigh[p.vtep()] = p.mac.String()
		want = append(want, route{node: p.name, Route: netlink.Route{
			Dst: ipnet(p.podCIDR), Gw: p.vtep().AsSlice(), LinkIndex: idx, Flags: int(netlink.FLAG_ONLINK),
		}})
	}
	conflicts, err := syncRoutes(h, want, n.log)
	errs = append(errs, err, pruneEntries(h, idx, wantNeigh, wantFDB))
	maps.Copy(problems, conflicts)
	n.report(problems)
	return errors.Join(errs...)
}

// ensureVXLAN creates the tunnel device, or recreates it when it is not
// configured as wanted (another node IP, another underlying link), and
// gives it the endpoint address: the network address of own, as /32.
func (n *Network) ensureVXLAN(h handle, own netip.Prefix) (netlink.Link, error) {
	under, err := linkWithAddr(h, n.nodeIP)
	if err != nil {
		return nil, err
	}
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: VXLANDevice, MTU: under.Attrs().MTU - VXLANOverhead},
		VxlanId:      VXLANID,
		VtepDevIndex: under.Attrs().Index,
		SrcAddr:      n.nodeIP.AsSlice(),
		Port:         VXLANPort,
		Learning:     false,
	}
	link, err := h.LinkByName(VXLANDevice)
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		link, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", VXLANDevice, err)
	}
	if link != nil {
		if vx, ok := link.(*netlink.Vxlan); !ok || vx.VxlanId != want.VxlanId || vx.Port != want.Port ||
			!vx.SrcAddr.Equal(want.SrcAddr) || vx.VtepDevIndex != want.VtepDevIndex || vx.Learning {
			n.log.Info("recreating the vxlan device: its configuration changed", "device", VXLANDevice)
			if err := h.LinkDel(link); err != nil {
				return nil, fmt.Errorf("deleting device %s: %w", VXLANDevice, err)
			}
			link = nil
		}
	}
	if link == nil {
		if err := h.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("creating device %s (VNI %d, port %d, local %s): %w", VXLANDevice, VXLANID, VXLANPort, n.nodeIP, err)
		}
		if link, err = h.LinkByName(VXLANDevice); err != nil {
			return nil, fmt.Errorf("device %s: %w", VXLANDevice, err)
		}
		n.log.Info("created the vxlan device", "device", VXLANDevice, "mac", link.Attrs().HardwareAddr.String(), "mtu", want.MTU)
	}
	if link.Attrs().MTU != want.MTU {
		if err := h.LinkSetMTU(link, want.MTU); err != nil {
			return nil, fmt.Errorf("setting the MTU of %s: %w", VXLANDevice, err)
		}
	}

	vtep := netip.PrefixFrom(own.Addr(), 32)
	addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", VXLANDevice, err)
	}
	found := false
	for _, a := range addrs {
		if ones, _ := a.Mask.Size(); a.IP.Equal(vtep.Addr().AsSlice()) && ones == 32 {
			found = true
			continue
		}
		if err := h.AddrDel(link, &a); err != nil {
			return nil, fmt.Errorf("removing the old address %s of %s: %w", a.IPNet, VXLANDevice, err)
		}
	}
	if !found {
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet(vtep)}); err != nil {
			return nil, fmt.Errorf("address %s on %s: %w", vtep, VXLANDevice, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bringing %s up: %w", VXLANDevice, err)
		}
	}
	return link, nil
}

// publishMAC tells the other nodes where this node's tunnel ends. It
// patches this node's own Node only.
func (n *Network) publishMAC(ctx context.Context, mac string) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{VXLANMACAnnotation: mac}},
	})
	if err != nil {
		return err
	}
	if _, err := n.client.CoreV1().Nodes().Patch(ctx, n.opts.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("publishing the vxlan MAC in node %q's annotation %s: %w", n.opts.NodeName, VXLANMACAnnotation, err)
	}
	n.log.Info("published the vxlan MAC", "node", n.opts.NodeName, "mac", mac)
	return nil
}

// pruneEntries deletes the neighbours and FDB entries on the tunnel that no
// peer wants any more. Everything on the device is podnet's.
func pruneEntries(h handle, idx int, wantNeigh map[netip.Addr]string, wantFDB map[string]netip.Addr) error {
	var errs []error
	neighs, err := dump(func() ([]netlink.Neigh, error) { return h.NeighList(idx, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("neighbours on %s: %w", VXLANDevice, err)
	}
	for _, nb := range neighs {
		ip, _ := netip.AddrFromSlice(nb.IP)
		if nb.State&netlink.NUD_PERMANENT == 0 || wantNeigh[ip.Unmap()] == nb.HardwareAddr.String() {
			continue
		}
		if err := h.NeighDel(&nb); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("deleting neighbour %s: %w", nb.IP, err))
		}
	}
	fdb, err := dump(func() ([]netlink.Neigh, error) { return h.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return fmt.Errorf("FDB of %s: %w", VXLANDevice, err)
	}
	for _, e := range fdb {
		dst, _ := netip.AddrFromSlice(e.IP)
		if want, ok := wantFDB[e.HardwareAddr.String()]; ok && want == dst.Unmap() {
			continue
		}
		e.Flags |= netlink.NTF_SELF
		if err := h.NeighDel(&e); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("deleting FDB entry %s dst %s: %w", e.HardwareAddr, e.IP, err))
		}
	}
	return errors.Join(errs...)
}

// deleteVXLAN removes the tunnel and with it every neighbour, FDB entry and
// route through it.
func deleteVXLAN(h handle) error {
	link, err := h.LinkByName(VXLANDevice)
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("device %s: %w", VXLANDevice, err)
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("deleting device %s: %w", VXLANDevice, err)
	}
	return nil
}
