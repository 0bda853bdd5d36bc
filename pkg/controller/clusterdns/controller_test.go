package clusterdns_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/clusterdns"
	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/test/harness"
)

// start runs the controller on a control plane of its own (whose bootstrap
// made the kube-dns Service). writes counts the controller's writes to
// EndpointSlices (the API server drops a no-op update, so only the requests
// tell one apart).
func start(t *testing.T) (cs kubernetes.Interface, writes *atomic.Int64) {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	writes = new(atomic.Int64)
	rc := rest.CopyConfig(c.Config)
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/endpointslices") {
				writes.Add(1)
			}
			return next.RoundTrip(r)
		})
	})
	own := kubernetes.NewForConfigOrDie(rc)
	factory := informers.NewSharedInformerFactory(own, 0)
	controllertest.Run(t, factory, clusterdns.New(own, factory, clusterdns.Options{}))
	return c.Client, writes
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createNode makes a Node announcing dns ("" for none) with its Ready
// condition as given.
func createNode(t *testing.T, cs kubernetes.Interface, name, dns string, ready corev1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if dns != "" {
		n.Annotations = map[string]string{clusterdns.NodeAnnotation: dns}
	}
	n, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, n, ready)
}

func setReady(t *testing.T, cs kubernetes.Interface, n *corev1.Node, ready corev1.ConditionStatus) {
	t.Helper()
	n = n.DeepCopy()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.Now()}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func editNode(t *testing.T, cs kubernetes.Interface, name string, edit func(*corev1.Node)) {
	t.Helper()
	ctx := context.Background()
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit(n)
	if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// summary renders the slice as a user reads it: its ports, then one line per
// endpoint (node address ready/serving/terminating).
func summary(s *discoveryv1.EndpointSlice) string {
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, "")))
	}
	lines := []string{strings.Join(ports, " ")}
	for _, e := range s.Endpoints {
		lines = append(lines, fmt.Sprintf("%s %s %v/%v/%v", ptr.Deref(e.NodeName, "?"), strings.Join(e.Addresses, ","),
			ptr.Deref(e.Conditions.Ready, false), ptr.Deref(e.Conditions.Serving, false), ptr.Deref(e.Conditions.Terminating, true)))
	}
	return strings.Join(lines, "\n")
}

const ports = "dns:53/UDP dns-tcp:53/TCP"

// waitSlice waits for kube-system/kube-dns-nodes to list want, with its labels.
func waitSlice(t *testing.T, cs kubernetes.Interface, want string) *discoveryv1.EndpointSlice {
	t.Helper()
	var got *discoveryv1.EndpointSlice
	controllertest.Eventually(t, "the kube-dns slice to list:\n"+want, func() (bool, string) {
		s, err := cs.DiscoveryV1().EndpointSlices("kube-system").Get(context.Background(), "kube-dns-nodes", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = s
		ok := summary(s) == want && s.AddressType == discoveryv1.AddressTypeIPv4 &&
			s.Labels["kubernetes.io/service-name"] == "kube-dns" && s.Labels["endpointslice.kubernetes.io/managed-by"] == "cluster-dns.skiff.io"
		return ok, fmt.Sprintf("%s labels %v:\n%s", s.AddressType, s.Labels, summary(s))
	})
	return got
}

// TestSliceFollowsNodes: the slice exists from the start, lists the nodes
// that announce a DNS server as they come, change readiness and go, and is
// put back when deleted or edited; another slice of the Service is left
// alone, and changes that do not alter the slice do not write it.
func TestSliceFollowsNodes(t *testing.T) {
	cs, writes := start(t)
	ctx := context.Background()
	slices := cs.DiscoveryV1().EndpointSlices("kube-system")
	waitSlice(t, cs, ports)

	other := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-extra", Labels: map[string]string{
			"kubernetes.io/service-name": "kube-dns", "endpointslice.kubernetes.io/managed-by": "someone-else"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.9"}}},
	}
	other, err := slices.Create(ctx, other, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	createNode(t, cs, "node-b", "10.42.2.1", corev1.ConditionTrue)
	createNode(t, cs, "node-a", "10.42.1.1", corev1.ConditionFalse)
	createNode(t, cs, "hollow-1", "", corev1.ConditionTrue)
	waitSlice(t, cs, ports+"\n"+
		"node-a 10.42.1.1 false/false/false\n"+
		"node-b 10.42.2.1 true/true/false")

	a, err := cs.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, a, corev1.ConditionTrue)
	waitSlice(t, cs, ports+"\n"+
		"node-a 10.42.1.1 true/true/false\n"+
		"node-b 10.42.2.1 true/true/false")

	// The v1 Endpoints say the same (what `kubectl get endpoints kube-dns`
	// shows), and come back when deleted.
	waitEndpoints := func(want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			e, err := cs.CoreV1().Endpoints("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
			if err != nil {
				got = err.Error()
				continue
			}
			got = e.Labels["endpointslice.kubernetes.io/skip-mirror"]
			for _, sub := range e.Subsets {
				for _, a := range sub.Addresses {
					got += " " + a.IP + "@" + *a.NodeName
				}
				for _, p := range sub.Ports {
					got += fmt.Sprintf(" %s/%d/%s", p.Name, p.Port, p.Protocol)
				}
			}
			if got == want {
				return
			}
		}
		t.Fatalf("kube-dns Endpoints %q, want %q", got, want)
	}
	const both = "true 10.42.1.1@node-a 10.42.2.1@node-b dns/53/UDP dns-tcp/53/TCP"
	waitEndpoints(both)
	if err := cs.CoreV1().Endpoints("kube-system").Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(both)

	// Writes only when the content changes: a heartbeat, a label, a node that
	// announces nothing and one whose announcement is no IPv4 address pass
	// without one; the next announcement is one.
	before := writes.Load()
	b, err := cs.CoreV1().Nodes().Get(ctx, "node-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, b, corev1.ConditionTrue)
	editNode(t, cs, "node-b", func(n *corev1.Node) { n.Labels = map[string]string{"role": "db"} })
	createNode(t, cs, "hollow-2", "", corev1.ConditionTrue)
	createNode(t, cs, "bad-dns", "dns.example", corev1.ConditionTrue)
	editNode(t, cs, "hollow-1", func(n *corev1.Node) { n.Annotations = map[string]string{clusterdns.NodeAnnotation: "10.42.9.1"} })
	waitSlice(t, cs, ports+"\n"+
		"hollow-1 10.42.9.1 true/true/false\n"+
		"node-a 10.42.1.1 true/true/false\n"+
		"node-b 10.42.2.1 true/true/false")
	time.Sleep(200 * time.Millisecond) // for a write that should not come
	if n := writes.Load() - before; n != 1 {
		t.Errorf("%d writes for one change of the slice's content", n)
	}

	if err := slices.Delete(ctx, "kube-dns-nodes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlice(t, cs, ports+"\n"+
		"hollow-1 10.42.9.1 true/true/false\n"+
		"node-a 10.42.1.1 true/true/false\n"+
		"node-b 10.42.2.1 true/true/false")

	s, err := slices.Get(ctx, "kube-dns-nodes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoints = s.Endpoints[:1]
	s.Labels["team"] = "dns"
	if _, err := slices.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitSlice(t, cs, ports+"\n"+
		"hollow-1 10.42.9.1 true/true/false\n"+
		"node-a 10.42.1.1 true/true/false\n"+
		"node-b 10.42.2.1 true/true/false")
	if got.Labels["team"] != "dns" {
		t.Errorf("a label someone added was dropped: %v", got.Labels)
	}

	editNode(t, cs, "node-b", func(n *corev1.Node) { delete(n.Annotations, clusterdns.NodeAnnotation) })
	if err := cs.CoreV1().Nodes().Delete(ctx, "hollow-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlice(t, cs, ports+"\n"+
		"node-a 10.42.1.1 true/true/false")

	kept, err := slices.Get(ctx, "kube-dns-extra", metav1.GetOptions{})
	if err != nil || kept.ResourceVersion != other.ResourceVersion {
		t.Errorf("the other slice of kube-dns was touched: %v (resourceVersion %s, was %s)", err, kept.ResourceVersion, other.ResourceVersion)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kube-dns-nodes", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a slice outside kube-system: %v", err)
	}
}
