package podnet

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// allPairsSeeSourceIP checks that the pod on every node reaches the pod on
// every other node at its IP, and is seen there at its own IP: no NAT.
func allPairsSeeSourceIP(t *testing.T, l *lab) {
	t.Helper()
	for _, a := range l.nodes {
		for _, b := range l.nodes {
			if a == b {
				continue
			}
			from, to := a.pods[0], b.pods[0]
			got, err := whoami(from, to.ip)
			if err != nil {
				t.Errorf("pod %s on %s → pod %s on %s: %v", from.ip, a.name, to.ip, b.name, err)
				continue
			}
			if got != from.ip {
				t.Errorf("pod %s on %s saw pod %s on %s connect from %s, want its own pod IP (no NAT)", to.ip, b.name, from.ip, a.name, got)
			}
		}
	}
}

func TestHostGW(t *testing.T) {
	l := newLab(t, false, 3, 1)
	n1, n2, n3 := l.nodes[0], l.nodes[1], l.nodes[2]
	kube := fake.NewClientset(l.nodeObjects()[0], l.nodeObjects()[1], l.nodeObjects()[2])
	l.start(kube, HostGW)
	l.serveAll()

	for _, n := range l.nodes {
		if got := n.net.MTU(); got != 1500 {
			t.Errorf("MTU() on %s = %d, want the link's 1500", n.name, got)
		}
	}
	t.Run("every pod reaches every other node's pod at its own IP", func(t *testing.T) {
		allPairsSeeSourceIP(t, l)
	})
	want1 := []string{"10.42.2.0/24 via 192.168.200.12", "10.42.3.0/24 via 192.168.200.13"}
	t.Run("routes via each node's InternalIP", func(t *testing.T) {
		if got := routesOf(t, n1); !reflect.DeepEqual(got, want1) {
			t.Fatalf("routes on node-1 = %q, want %q", got, want1)
		}
	})
	t.Run("a resync restores and prunes its own routes and leaves others alone", func(t *testing.T) {
		l.ip("-n", n1.ns, "route", "del", "10.42.3.0/24")
		l.ip("-n", n1.ns, "route", "add", "10.42.98.0/24", "via", n2.ip, "proto", "83")
		l.ip("-n", n1.ns, "route", "add", "10.42.99.0/24", "via", n2.ip, "proto", "static")
		eventually(t, "node-1's routes are podnet's wanted ones", func() (bool, string) {
			got := routesOf(t, n1)
			return reflect.DeepEqual(got, want1), fmt.Sprint(got)
		})
		out, _ := exec.Command("ip", "-n", n1.ns, "route", "show", "10.42.99.0/24").CombinedOutput()
		if !strings.Contains(string(out), "via "+n2.ip) {
			t.Errorf("a route podnet did not make is gone: ip route show 10.42.99.0/24 = %q", out)
		}
		if _, err := whoami(n1.pods[0], n3.pods[0].ip); err != nil {
			t.Errorf("node-3's pod after the resync: %v", err)
		}
	})
	t.Run("a removed node's routes go", func(t *testing.T) {
		if err := kube.CoreV1().Nodes().Delete(context.Background(), n3.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []*labNode{n1, n2} {
			eventually(t, "no route to node-3's pods on "+n.name, func() (bool, string) {
				got := routesOf(t, n)
				return len(got) == 1 && !strings.Contains(got[0], "10.42.3.0"), fmt.Sprint(got)
			})
		}
		if _, err := whoami(n1.pods[0], n3.pods[0].ip); err == nil {
			t.Error("node-1's pod still reaches node-3's pod after node-3 was deleted")
		}
		if got, err := whoami(n1.pods[0], n2.pods[0].ip); err != nil || got != n1.pods[0].ip {
			t.Errorf("node-1 → node-2 after node-3 went: %q, %v", got, err)
		}
	})
	t.Run("Cleanup removes every route it made", func(t *testing.T) {
		l.stopAll()
		for _, n := range l.nodes {
			if got := routesOf(t, n); len(got) != 0 {
				t.Errorf("routes left on %s after Cleanup: %q", n.name, got)
			}
		}
	})
}

// vxlanState is what podnet programmed on a node's tunnel, for comparing.
type vxlanState struct {
	Routes, Neighbours, FDB []string
}

func vxlanStateOf(t *testing.T, n *labNode) (st vxlanState, dev *netlink.Vxlan) {
	t.Helper()
	st.Routes = routesOf(t, n)
	inspect(t, n, func(h handle) {
		link, err := h.LinkByName(VXLANDevice)
		if err != nil {
			return
		}
		dev = link.(*netlink.Vxlan)
		neighs, err := h.NeighList(dev.Index, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, nb := range neighs {
			if nb.State&netlink.NUD_PERMANENT != 0 {
				st.Neighbours = append(st.Neighbours, fmt.Sprintf("%s %s", nb.IP, nb.HardwareAddr))
			}
		}
		fdb, err := h.NeighList(dev.Index, unix.AF_BRIDGE)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range fdb {
			st.FDB = append(st.FDB, fmt.Sprintf("%s dst %s", e.HardwareAddr, e.IP))
		}
	})
	slices.Sort(st.Neighbours)
	slices.Sort(st.FDB)
	return st, dev
}

func TestVXLAN(t *testing.T) {
	// Nodes on three subnets behind a router: they share no link.
	l := newLab(t, true, 3, 1)
	n1, n3 := l.nodes[0], l.nodes[2]
	nodes := l.nodeObjects()
	kube := fake.NewClientset(nodes[0], nodes[1], nodes[2])
	l.serveAll()

	t.Run("host-gw refuses nodes behind a router and says to use vxlan", func(t *testing.T) {
		l.start(kube, HostGW)
		for _, n := range l.nodes {
			if got := routesOf(t, n); len(got) != 0 {
				t.Errorf("host-gw routes on %s across a router: %q", n.name, got)
			}
		}
		logs := l.logs.String()
		want := `level=ERROR msg="not routing pods of node" on=node-1 node=node-3 reason="its InternalIP 192.168.203.2 is not on a link this node shares (it is reached via the gateway 192.168.201.1); host-gw routes only to nodes on the same link: use --network-backend vxlan"`
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack\n%s\ngot:\n%s", want, logs)
		}
		if _, err := whoami(n1.pods[0], n3.pods[0].ip); err == nil {
			t.Error("pods reach each other across the router without any route")
		}
		l.stopAll()
	})

	l.start(kube, VXLAN)
	for _, n := range l.nodes {
		if got := n.net.MTU(); got != 1450 {
			t.Errorf("MTU() on %s = %d, want 1500-50", n.name, got)
		}
	}
	l.setPodMTU(n1.net.MTU())
	macs := map[string]string{}
	t.Run("each node publishes its tunnel's MAC", func(t *testing.T) {
		for _, n := range l.nodes {
			_, dev := vxlanStateOf(t, n)
			if dev == nil {
				t.Fatalf("no %s on %s", VXLANDevice, n.name)
			}
			if dev.VxlanId != 1 || dev.Port != 8472 || !dev.SrcAddr.Equal(netIP(n.ip)) || dev.Learning || dev.MTU != 1450 {
				t.Errorf("%s on %s: VNI %d port %d local %s learning %v MTU %d; want 1 8472 %s false 1450",
					VXLANDevice, n.name, dev.VxlanId, dev.Port, dev.SrcAddr, dev.Learning, dev.MTU, n.ip)
			}
			node, err := kube.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := node.Annotations[VXLANMACAnnotation]; got != dev.HardwareAddr.String() {
				t.Errorf("node %s annotation %s = %q, want its device's %s", n.name, VXLANMACAnnotation, got, dev.HardwareAddr)
			}
			macs[n.name] = dev.HardwareAddr.String()
		}
	})
	t.Run("node-1 tunnels to each node's endpoint", func(t *testing.T) {
		eventually(t, "node-1's tunnel entries", func() (bool, string) {
			st, _ := vxlanStateOf(t, n1)
			want := vxlanState{
				Routes:     []string{"10.42.2.0/24 via 10.42.2.0", "10.42.3.0/24 via 10.42.3.0"},
				Neighbours: []string{"10.42.2.0 " + macs["node-2"], "10.42.3.0 " + macs["node-3"]},
				FDB:        []string{macs["node-2"] + " dst 192.168.202.2", macs["node-3"] + " dst 192.168.203.2"},
			}
			slices.Sort(want.FDB)
			return reflect.DeepEqual(st, want), fmt.Sprintf("%+v, want %+v", st, want)
		})
	})
	t.Run("every pod reaches every other node's pod at its own IP", func(t *testing.T) {
		allPairsSeeSourceIP(t, l)
	})
	t.Run("8 MiB at the pods' MTU crosses the tunnel", func(t *testing.T) {
		const size = 8 << 20
		before := txBytes(t, n1)
		if _, err := send(n1.pods[0], n3.pods[0].ip, size); err != nil {
			t.Fatalf("8 MiB from node-1's pod to node-3's: %v", err)
		}
		if sent := txBytes(t, n1) - before; sent < size {
			t.Errorf("%s on node-1 sent %d bytes for 8 MiB; the traffic did not go through the tunnel", VXLANDevice, sent)
		}
	})
	t.Run("a recreated tunnel is republished and followed", func(t *testing.T) {
		l.ip("-n", n3.ns, "link", "del", VXLANDevice)
		eventually(t, "node-3 republishes a new MAC and node-1 follows", func() (bool, string) {
			node, err := kube.CoreV1().Nodes().Get(context.Background(), n3.name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			mac := node.Annotations[VXLANMACAnnotation]
			st, _ := vxlanStateOf(t, n1)
			return mac != macs["node-3"] && slices.Contains(st.FDB, mac+" dst 192.168.203.2") &&
				slices.Contains(st.Neighbours, "10.42.3.0 "+mac) && len(st.FDB) == 2, fmt.Sprintf("annotation %s, node-1 %+v", mac, st)
		})
		if got, err := whoami(n1.pods[0], n3.pods[0].ip); err != nil || got != n1.pods[0].ip {
			t.Errorf("node-1 → node-3 after node-3's tunnel was recreated: %q, %v", got, err)
		}
	})
	t.Run("a removed node's route, neighbour and FDB entry go", func(t *testing.T) {
		if err := kube.CoreV1().Nodes().Delete(context.Background(), n3.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "node-1 forgets node-3", func() (bool, string) {
			st, _ := vxlanStateOf(t, n1)
			want := vxlanState{
				Routes:     []string{"10.42.2.0/24 via 10.42.2.0"},
				Neighbours: []string{"10.42.2.0 " + macs["node-2"]},
				FDB:        []string{macs["node-2"] + " dst 192.168.202.2"},
			}
			return reflect.DeepEqual(st, want), fmt.Sprintf("%+v", st)
		})
		if _, err := whoami(n1.pods[0], n3.pods[0].ip); err == nil {
			t.Error("node-1's pod still reaches node-3's pod after node-3 was deleted")
		}
	})
	t.Run("Cleanup removes the tunnel and every route", func(t *testing.T) {
		l.stopAll()
		for _, n := range l.nodes {
			if st, dev := vxlanStateOf(t, n); dev != nil || len(st.Routes) != 0 {
				t.Errorf("left on %s after Cleanup: device %v, routes %q", n.name, dev != nil, st.Routes)
			}
		}
	})
}

func txBytes(t *testing.T, n *labNode) uint64 {
	var tx uint64
	inspect(t, n, func(h handle) {
		link, err := h.LinkByName(VXLANDevice)
		if err != nil {
			t.Fatal(err)
		}
		tx = link.Attrs().Statistics.TxBytes
	})
	return tx
}
