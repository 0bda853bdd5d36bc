package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// TestExternalTrafficPolicyLocal sends traffic from another host on the
// node's link: NodePort and LoadBalancer traffic reaches only this node's
// endpoint with the client's own source address, and is dropped when the
// node has none; pods and the node itself still reach every endpoint.
func TestExternalTrafficPolicyLocal(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.serve(n.podB, "pod-b")
	port := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30081}
	local := svc("local", v1.ServiceTypeLoadBalancer, "10.43.0.30", port)
	local.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	local.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.99.0.30"}}
	// pod-a runs on this node (node-1), pod-b on another.
	localSlice := slice("local", port, 8080, epOn("10.42.0.2", "node-1"), epOn("10.42.0.3", "node-2"))
	cluster := svc("cluster", v1.ServiceTypeLoadBalancer, "10.43.0.31", v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30082})
	cluster.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.99.0.31"}}
	kube := fake.NewClientset(local, localSlice, cluster,
		slice("cluster", port, 8080, epOn("10.42.0.2", "node-1"), epOn("10.42.0.3", "node-2")))
	startProxy(t, kube, n)

	for _, url := range []string{"http://192.168.77.2:30081/", "http://10.99.0.30:80/"} {
		seen := map[string]int{}
		for range 20 {
			body, clientIP, err := getFrom(n.clientPath, url)
			if err != nil {
				t.Fatalf("GET %s from another host: %v", url, err)
			}
			if clientIP != "192.168.77.3" {
				t.Fatalf("GET %s from 192.168.77.3: the pod saw client %s, want the client's own address", url, clientIP)
			}
			seen[body]++
		}
		if len(seen) != 1 || seen["pod-a"] == 0 {
			t.Fatalf("20 external requests to %s reached %v, want only this node's pod-a", url, seen)
		}
	}
	// The same from a Service with the default policy: masqueraded, and both pods.
	_, clientIP, err := getFrom(n.clientPath, "http://192.168.77.2:30082/")
	if err != nil || clientIP != "10.42.0.1" {
		t.Fatalf("NodePort of a Cluster-policy Service: client seen as %q (err %v), want masqueraded 10.42.0.1", clientIP, err)
	}
	for _, from := range []struct{ name, ns, url string }{
		{"a pod to the ClusterIP", "/var/run/netns/" + n.podB, "http://10.43.0.30:80/"},
		{"a pod to the LoadBalancer IP", "/var/run/netns/" + n.podB, "http://10.99.0.30:80/"},
		{"the node to its NodePort", n.nodePath, "http://192.168.77.2:30081/"},
	} {
		seen := map[string]int{}
		for range 30 {
			seen[which(t, from.ns, from.url)]++
		}
		if len(seen) != 2 {
			t.Errorf("%s: 30 requests reached %v, want both pods (cluster traffic ignores the external policy)", from.name, seen)
		}
	}

	// Only a remote endpoint left: external traffic is dropped, not refused.
	localSlice.Endpoints = []discoveryv1.Endpoint{epOn("10.42.0.3", "node-2")}
	if _, err := kube.DiscoveryV1().EndpointSlices("default").Update(context.Background(), localSlice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod-a's endpoint removed", func() bool {
		return !strings.Contains(n.nft("list", "chain", "ip", TableName, "svc-default/local/tcp/http"), "10.42.0.2")
	})
	for _, url := range []string{"http://192.168.77.2:30081/", "http://10.99.0.30:80/"} {
		_, err := getFromTimeout(n.clientPath, url, 500*time.Millisecond)
		var timeout interface{ Timeout() bool }
		if err == nil || !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Errorf("GET %s with no local endpoint: %v, want a timeout (dropped)", url, err)
		}
	}
	if got := which(t, "/var/run/netns/"+n.podA, "http://10.43.0.30:80/"); got != "pod-b" {
		t.Errorf("ClusterIP with only a remote endpoint answered from %s, want pod-b", got)
	}
}

// TestInternalTrafficPolicyLocal gives a NodePort Service
// internalTrafficPolicy: Local with one endpoint on this node and one on
// another: its ClusterIP reaches only the local one, from the node, a pod
// and another host, and is dropped (not refused) once only the remote one is
// left, while its NodePort keeps reaching every endpoint. Turning the policy
// back to Cluster opens the ClusterIP to the remote endpoint.
func TestInternalTrafficPolicyLocal(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.serve(n.podB, "pod-b")
	port := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30085}
	s := svc("itp", v1.ServiceTypeNodePort, "10.43.0.32", port)
	s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
	// pod-a runs on this node (node-1), pod-b on another.
	itpSlice := slice("itp", port, 8080, epOn("10.42.0.2", "node-1"), epOn("10.42.0.3", "node-2"))
	kube := fake.NewClientset(s, itpSlice)
	startProxy(t, kube, n)
	const clusterIP, nodePort = "http://10.43.0.32:80/", "http://192.168.77.2:30085/"
	const intChain = "int-default/itp/tcp/http"

	if chain := n.nft("list", "chain", "ip", TableName, intChain); strings.Contains(chain, "10.42.0.3") {
		t.Errorf("the ClusterIP's chain leads to the remote endpoint:\n%s", chain)
	}
	for _, from := range []struct{ name, ns string }{
		{"the node", n.nodePath}, {"a pod", "/var/run/netns/" + n.podB}, {"another host", n.clientPath},
	} {
		seen := map[string]int{}
		for range 30 {
			seen[which(t, from.ns, clusterIP)]++
		}
		if len(seen) != 1 || seen["pod-a"] == 0 {
			t.Errorf("%s: 30 requests to the ClusterIP reached %v, want only this node's pod-a", from.name, seen)
		}
	}
	seen := map[string]int{}
	for range 30 {
		seen[which(t, n.clientPath, nodePort)]++
	}
	if len(seen) != 2 {
		t.Errorf("30 requests to the NodePort reached %v, want both pods (the external policy is Cluster)", seen)
	}

	// Only the remote endpoint left: the ClusterIP is dropped, not refused.
	itpSlice.Endpoints = []discoveryv1.Endpoint{epOn("10.42.0.3", "node-2")}
	updateSlice(t, kube, itpSlice)
	waitFor(t, "the ClusterIP's chain turned to a drop", func() bool {
		return strings.Contains(n.nft("list", "chain", "ip", TableName, intChain), "drop")
	})
	for _, from := range []struct{ name, ns string }{{"the node", n.nodePath}, {"a pod", "/var/run/netns/" + n.podA}} {
		_, err := getFromTimeout(from.ns, clusterIP, 500*time.Millisecond)
		var timeout interface{ Timeout() bool }
		if err == nil || !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Errorf("GET the ClusterIP from %s with no local endpoint: %v, want a timeout (dropped)", from.name, err)
		}
	}
	if got := which(t, n.clientPath, nodePort); got != "pod-b" {
		t.Errorf("NodePort with only a remote endpoint answered from %s, want pod-b", got)
	}

	s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyCluster)
	if _, err := kube.CoreV1().Services("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ClusterIP's own chain removed", func() bool {
		return !strings.Contains(n.nft("list", "table", "ip", TableName), intChain)
	})
	if got := which(t, n.nodePath, clusterIP); got != "pod-b" {
		t.Errorf("ClusterIP back under the Cluster policy answered from %s, want pod-b", got)
	}
}

// TestLoadBalancerIPAnsweredOnTheNode gives a Service an ingress address
// that is not the node's: the node takes it on its skiff-lb interface, so
// another host on the link reaches it (ARP), and gives it up with the
// Service; Cleanup removes the interface.
func TestLoadBalancerIPAnsweredOnTheNode(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	port := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 8080, NodePort: 30083}
	lb := svc("kubia-http", v1.ServiceTypeLoadBalancer, "10.43.0.40", port)
	// On the node's own subnet, as a --lb-pool on the LAN would be: the
	// client asks for it by ARP, with no route pointing at the node.
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.77.200"}}
	// A node address as ingress (no --lb-pool) stays where it is.
	nodeLB := svc("node-lb", v1.ServiceTypeLoadBalancer, "10.43.0.41", v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 8081, NodePort: 30084})
	nodeLB.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.77.2"}}
	kube := fake.NewClientset(lb, nodeLB, slice("kubia-http", port, 8080, ep("10.42.0.2", nil)))
	p := startProxy(t, kube, n)

	addrs := func() string {
		out, err := exec.Command("ip", "-n", n.node, "-4", "-o", "addr", "show", "dev", LBInterface).CombinedOutput()
		if err != nil {
			return "error: " + string(out)
		}
		return string(out)
	}
	if got := addrs(); !strings.Contains(got, "192.168.77.200/32") || strings.Contains(got, "192.168.77.2/") {
		t.Fatalf("%s holds:\n%s\nwant 192.168.77.200/32 and not the node's own address", LBInterface, got)
	}
	for _, from := range []struct{ name, ns string }{{"another host on the link", n.clientPath}, {"the node", n.nodePath}} {
		if got := which(t, from.ns, "http://192.168.77.200:8080/"); got != "pod-a" {
			t.Fatalf("GET LoadBalancer IP from %s = %q, want pod-a", from.name, got)
		}
	}

	if err := kube.CoreV1().Services("default").Delete(context.Background(), "kubia-http", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the LoadBalancer IP given up", func() bool { return !strings.Contains(addrs(), "192.168.77.200") })
	if _, err := getFromTimeout(n.clientPath, "http://192.168.77.200:8080/", 500*time.Millisecond); err == nil {
		t.Fatal("the LoadBalancer IP of a deleted Service still answers")
	} else if errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatal("the node still answers for the LoadBalancer IP of a deleted Service (connection refused)")
	}

	p.stop(t)
	if err := p.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", n.node, "link", "show", LBInterface).CombinedOutput(); err == nil {
		t.Fatalf("%s still present after Cleanup:\n%s", LBInterface, out)
	}
}

// TestScaleDownLosesNoRequests removes an endpoint while a client keeps
// sending requests: none fails, none started after the proxy synced reaches
// the removed pod, and a keep-alive connection already on that pod is served
// by it until the pod goes away, as upstream leaves established TCP flows.
func TestScaleDownLosesNoRequests(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	podB := n.serve(n.podB, "pod-b")
	s := slice("kubia", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", nil))
	kube := fake.NewClientset(svc("kubia", v1.ServiceTypeClusterIP, "10.43.0.10", httpPort), s)
	startProxy(t, kube, n)
	const url = "http://10.43.0.10:80/"

	// A keep-alive connection that landed on pod-b.
	var kept *http.Client
	for i := 0; kept == nil; i++ {
		if i == 50 {
			t.Fatal("50 new connections never reached pod-b")
		}
		c := client(n.clientPath)
		c.Transport.(*http.Transport).DisableKeepAlives = false
		if body, err := getWith(c, url); err == nil && body == "pod-b" {
			kept = c
		}
	}

	type result struct {
		start time.Time
		body  string
		err   error
	}
	stop := make(chan struct{})
	results := make(chan []result)
	go func() {
		var rs []result
		for {
			select {
			case <-stop:
				results <- rs
				return
			default:
			}
			start := time.Now()
			body, _, err := getFrom(n.clientPath, url)
			rs = append(rs, result{start, body, err})
		}
	}()
	time.Sleep(200 * time.Millisecond)

	// Scale down: pod-b's endpoint turns not ready, as when its pod terminates.
	s.Endpoints[1].Conditions.Ready = ptr.To(false)
	if _, err := kube.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod-b's endpoint removed", func() bool {
		return !strings.Contains(n.nft("list", "chain", "ip", TableName, "svc-default/kubia/tcp/http"), "10.42.0.3")
	})
	settled := time.Now()
	if body, err := getWith(kept, url); err != nil || body != "pod-b" {
		t.Errorf("the kept-alive connection to the removed pod after the sync: %q, %v; want pod-b still serving it", body, err)
	}
	time.Sleep(200 * time.Millisecond)
	podB.Close() // the pod terminates
	time.Sleep(200 * time.Millisecond)
	close(stop)
	rs := <-results

	after := 0
	for _, r := range rs {
		if r.err != nil {
			t.Errorf("request at %v failed: %v", r.start.Sub(settled), r.err)
			continue
		}
		if r.start.After(settled) {
			after++
			if r.body != "pod-a" {
				t.Errorf("request started %v after the endpoint was removed reached %s", r.start.Sub(settled), r.body)
			}
		}
	}
	if after < 10 {
		t.Fatalf("only %d requests after the endpoint was removed; want a real load", after)
	}
	t.Logf("%d requests, %d after the endpoint was removed, none failed", len(rs), after)
}

func getWith(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
