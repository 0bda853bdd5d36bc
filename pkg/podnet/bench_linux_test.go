package podnet

import (
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkPodToPod measures TCP throughput from a pod to a pod on another
// node against one to a pod on the same node, through each backend: host-gw
// on nodes sharing a switch, vxlan on nodes behind a router. Each iteration
// sends 64 MiB both ways; cross/same is the ratio. Both ends run on this
// machine, so the figures compare paths, not networks.
func BenchmarkPodToPod(b *testing.B) {
	for _, tc := range []struct {
		backend Backend
		routed  bool
	}{{HostGW, false}, {VXLAN, true}} {
		l := newLab(b, tc.routed, 2, 2)
		nodes := l.nodeObjects()
		l.start(fake.NewClientset(nodes[0], nodes[1]), tc.backend)
		l.setPodMTU(l.nodes[0].net.MTU())
		l.serveAll()
		from, sameNode, otherNode := l.nodes[0].pods[0], l.nodes[0].pods[1], l.nodes[1].pods[0]
		b.Run(string(tc.backend), func(b *testing.B) {
			const size = 64 << 20
			var same, cross time.Duration
			for b.Loop() {
				d, err := send(from, sameNode.ip, size)
				if err != nil {
					b.Fatalf("to the pod on the same node: %v", err)
				}
				same += d
				if d, err = send(from, otherNode.ip, size); err != nil {
					b.Fatalf("to the pod on the other node: %v", err)
				}
				cross += d
			}
			mibps := func(d time.Duration) float64 { return float64(b.N) * size / (1 << 20) / d.Seconds() }
			b.ReportMetric(mibps(same), "same-MiB/s")
			b.ReportMetric(mibps(cross), "cross-MiB/s")
			b.ReportMetric(mibps(cross)/mibps(same), "cross/same")
			b.ReportMetric(0, "ns/op")
		})
	}
}
