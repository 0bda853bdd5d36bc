package nodeipam_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/controller/nodeipam"
	"github.com/skiffhq/skiff/test/harness"
)

// runIPAM runs a node IPAM controller on its own informers; the returned stop
// ends it and waits for it.
func runIPAM(t *testing.T, client kubernetes.Interface, opts nodeipam.Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c := nodeipam.New(client, factory, opts)
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait(); factory.Shutdown() }) }
	t.Cleanup(stop)
	return stop
}

func createNode(t *testing.T, client kubernetes.Interface, name, podCIDR string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if podCIDR != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = podCIDR, []string{podCIDR}
	}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPodCIDR waits for the node's podCIDR and checks podCIDRs agrees.
func waitPodCIDR(t *testing.T, client kubernetes.Interface, name string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				t.Errorf("node %s: podCIDR %q, podCIDRs %v", name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
			}
			return n.Spec.PodCIDR
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node %s got no podCIDR within 5s", name)
	return ""
}

func TestAssignsDistinctSubnetsAcrossRestartsAndReleases(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	bg := context.Background()
	_, cluster, _ := net.ParseCIDR("10.42.0.0/22") // room for four /24s
	opts := nodeipam.Options{ClusterCIDR: cluster, NodeMaskSize: 24}

	// Nodes created before the controller, and one with a podCIDR of its own
	// outside the cluster CIDR, which is left alone.
	createNode(t, c.Client, "a", "")
	createNode(t, c.Client, "foreign", "192.168.7.0/24")
	stop := runIPAM(t, c.Client, opts)
	createNode(t, c.Client, "b", "")
	createNode(t, c.Client, "c", "")
	got := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		got[name] = waitPodCIDR(t, c.Client, name)
	}
	seen := map[string]bool{}
	for name, cidr := range got {
		ip, subnet, err := net.ParseCIDR(cidr)
		if err != nil || !cluster.Contains(ip) || subnet.String() != cidr || cidr[len(cidr)-3:] != "/24" || seen[cidr] {
			t.Errorf("node %s: podCIDR %s is not a distinct /24 of %s", name, cidr, cluster)
		}
		seen[cidr] = true
	}

	// A restarted controller learns the subnets in use from the nodes.
	stop()
	runIPAM(t, c.Client, opts)
	createNode(t, c.Client, "d", "")
	d := waitPodCIDR(t, c.Client, "d")
	if seen[d] {
		t.Fatalf("after a restart node d got %s, which is in use", d)
	}
	for name, cidr := range got {
		if now := waitPodCIDR(t, c.Client, name); now != cidr {
			t.Errorf("node %s: podCIDR changed from %s to %s", name, cidr, now)
		}
	}
	if f, _ := c.Client.CoreV1().Nodes().Get(bg, "foreign", metav1.GetOptions{}); f.Spec.PodCIDR != "192.168.7.0/24" {
		t.Errorf("foreign node's podCIDR changed to %s", f.Spec.PodCIDR)
	}

	// The range is full: the next node waits, with upstream's event.
	createNode(t, c.Client, "e", "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, err := c.Client.CoreV1().Events("default").List(bg, metav1.ListOptions{FieldSelector: "involvedObject.name=e,reason=CIDRNotAvailable"})
		if err == nil && len(evs.Items) > 0 {
			if ev := evs.Items[0]; ev.Message != "Node e status is now: CIDRNotAvailable" || ev.InvolvedObject.Kind != "Node" || ev.Source.Component != "cidrAllocator" {
				t.Errorf("event: %+v", ev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CIDRNotAvailable event for node e (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e, _ := c.Client.CoreV1().Nodes().Get(bg, "e", metav1.GetOptions{}); e.Spec.PodCIDR != "" {
		t.Fatalf("node e got %s from a full range", e.Spec.PodCIDR)
	}

	// Deleting a node frees its subnet for the waiting one.
	if err := c.Client.CoreV1().Nodes().Delete(bg, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := waitPodCIDR(t, c.Client, "e"); e != got["b"] {
		t.Errorf("node e got %s, want b's freed %s", e, got["b"])
	}
}

func TestDefaultsToSlash24sOf10_42(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	runIPAM(t, c.Client, nodeipam.Options{})
	createNode(t, c.Client, "n1", "")
	_, want, _ := net.ParseCIDR("10.42.0.0/16")
	ip, subnet, err := net.ParseCIDR(waitPodCIDR(t, c.Client, "n1"))
	if err != nil || !want.Contains(ip) {
		t.Fatalf("podCIDR %v outside %s", subnet, want)
	}
	if ones, _ := subnet.Mask.Size(); ones != 24 {
		t.Errorf("podCIDR %s is not a /24", subnet)
	}
}
