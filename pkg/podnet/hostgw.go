package podnet

import (
	"fmt"
	"maps"
	"net"

	"github.com/vishvananda/netlink"
)

// syncHostGW routes every peer's pod CIDR via the peer's InternalIP, out of
// the link this node reaches that address on directly.
func (n *Network) syncHostGW(h handle, peers []peer, problems map[string]string) error {
	var want []route
	for _, p := range peers {
		gw := net.IP(p.nodeIP.AsSlice())
		path, err := h.RouteGet(gw)
		if err != nil || len(path) == 0 {
			problems[p.name] = fmt.Sprintf("no route to its InternalIP %s (%v); host-gw needs every node on a link this node shares, use --network-backend vxlan otherwise", p.nodeIP, err)
			continue
		}
		if path[0].Gw != nil {
			problems[p.name] = fmt.Sprintf("its InternalIP %s is not on a link this node shares (it is reached via the gateway %s); host-gw routes only to nodes on the same link: use --network-backend vxlan", p.nodeIP, path[0].Gw)
			continue
		}
		want = append(want, route{node: p.name, Route: netlink.Route{
			Dst: ipnet(p.podCIDR), Gw: gw, LinkIndex: path[0].LinkIndex,
		}})
	}
	conflicts, err := syncRoutes(h, want, n.log)
	maps.Copy(problems, conflicts)
	n.report(problems)
	return err
}
