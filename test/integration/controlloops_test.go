package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %v; last state:\n%s", what, d, last)
}

// podRows is `kubectl get pods -o wide` as rows keyed by name (header skipped).
func podRows(t *testing.T, c *harness.Cluster, k harness.Kubectl, ns string, args ...string) map[string][]string {
	out, _, _ := c.Run(k, "", append([]string{"get", "pods", "-o", "wide", "-n", ns}, args...)...)
	m := map[string][]string{}
	for i, r := range rows(out) {
		if i > 0 {
			m[r[0]] = r
		}
	}
	return m
}

func allRunning(rows map[string][]string, n int) (bool, string) {
	var b strings.Builder
	running := 0
	for name, r := range rows {
		fmt.Fprintf(&b, "%s %v\n", name, r)
		if r[2] == "Running" {
			running++
		}
	}
	return running == n && len(rows) == n, b.String()
}

// TestSeedOnHollowNodes walks the seed's ReplicationController story through
// real kubectl with three hollow nodes: run, scale, spread, replace, relabel,
// expose as a LoadBalancer, describe, cascade, delete all, delete ns.
func TestSeedOnHollowNodes(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 3})
	k := harness.BuiltinKubectl(t)
	real := harness.Kubectls(t)
	kr := real[len(real)-1]
	run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }
	const ns = "default"

	eventually(t, "3 hollow nodes Ready", 20*time.Second, func() (bool, string) {
		out, _, _ := c.Run(kr, "", "get", "nodes")
		return strings.Count(out, " Ready ") == 3, out
	})
	mustContain(t, "run/v1", run("run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1"), "replicationcontroller/kubia created")
	eventually(t, "kubia pod Running", 20*time.Second, func() (bool, string) { return allRunning(podRows(t, c, kr, ns), 1) })

	mustContain(t, "scale", c.MustRun(t, kr, "", "scale", "rc", "kubia", "--replicas=3"), "replicationcontroller/kubia scaled")
	eventually(t, "3 pods Running", 20*time.Second, func() (bool, string) { return allRunning(podRows(t, c, kr, ns), 3) })
	nodesUsed := map[string]bool{}
	for _, r := range podRows(t, c, kr, ns) {
		if !strings.HasPrefix(r[5], "10.42.") {
			t.Fatalf("pod IP %q is not in the cluster CIDR: %v", r[5], r)
		}
		nodesUsed[r[6]] = true
	}
	if len(nodesUsed) != 3 {
		t.Fatalf("3 replicas should spread over 3 nodes, got %v", nodesUsed)
	}
	rc := rows(c.MustRun(t, kr, "", "get", "rc"))
	if !equalLists(rc[1][:4], []string{"kubia", "3", "3", "3"}) {
		t.Fatalf("get rc = %q", rc)
	}

	// A deleted pod is replaced.
	var victim string
	for name := range podRows(t, c, kr, ns) {
		victim = name
		break
	}
	mustContain(t, "delete pod", c.MustRun(t, kr, "", "delete", "pod", victim), fmt.Sprintf("pod %q deleted", victim))
	eventually(t, "replacement Running", 20*time.Second, func() (bool, string) {
		rows := podRows(t, c, kr, ns)
		_, still := rows[victim]
		ok, s := allRunning(rows, 3)
		return ok && !still, s
	})

	// A relabelled pod leaves the RC, which makes a new one.
	for name := range podRows(t, c, kr, ns) {
		victim = name
		break
	}
	c.MustRun(t, kr, "", "label", "pod", victim, "run=foo", "--overwrite")
	eventually(t, "released pod replaced", 20*time.Second, func() (bool, string) {
		return allRunning(podRows(t, c, kr, ns, "-l", "run=kubia"), 3)
	})
	pod, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), victim, metav1.GetOptions{})
	if err != nil || len(pod.OwnerReferences) != 0 {
		t.Fatalf("released pod should have no owner: %v %v", err, pod.OwnerReferences)
	}

	// Expose as a LoadBalancer: an EXTERNAL-IP, not <pending>.
	c.MustRun(t, kr, "", "expose", "rc", "kubia", "--type=LoadBalancer", "--name", "kubia-http")
	eventually(t, "EXTERNAL-IP assigned", 20*time.Second, func() (bool, string) {
		out, _, _ := c.Run(kr, "", "get", "svc", "kubia-http")
		r := rows(out)
		return len(r) == 2 && r[1][3] != "<pending>" && r[1][4] == fmt.Sprintf("8080:%s/TCP", strings.Split(strings.Split(r[1][4], ":")[1], "/")[0]), out
	})
	eventually(t, "endpoints list the 3 ready pods", 20*time.Second, func() (bool, string) {
		ep, err := c.Client.CoreV1().Endpoints(ns).Get(context.Background(), "kubia-http", metav1.GetOptions{})
		if err != nil || len(ep.Subsets) != 1 {
			return false, fmt.Sprint(err, ep)
		}
		return len(ep.Subsets[0].Addresses) == 3, fmt.Sprint(ep.Subsets)
	})

	// describe shows what the loops did.
	for name := range podRows(t, c, kr, ns, "-l", "run=kubia") {
		mustContain(t, "describe pod", c.MustRun(t, kr, "", "describe", "pod", name), "Node:", "hollow-", "Status:", "Running", "IP:", "Controlled By:", "ReplicationController/kubia", "Scheduled", "Successfully assigned default/"+name)
		break
	}
	mustContain(t, "describe rc", c.MustRun(t, kr, "", "describe", "rc", "kubia"), "3 current / 3 desired", "SuccessfulCreate", "Created pod: kubia-")
	mustContain(t, "describe node", c.MustRun(t, kr, "", "describe", "node", "hollow-1"), "Name:", "hollow-1", "Ready", "PodCIDR:", "Non-terminated Pods:")

	// delete rc cascades to its pods; delete all --all empties the namespace
	// except the kubernetes service.
	mustContain(t, "delete rc", c.MustRun(t, kr, "", "delete", "rc", "kubia"), `replicationcontroller "kubia" deleted`)
	eventually(t, "rc's pods gone", 30*time.Second, func() (bool, string) {
		rows := podRows(t, c, kr, ns, "-l", "run=kubia")
		return len(rows) == 0, fmt.Sprint(rows)
	})
	c.MustRun(t, kr, "", "delete", "all", "--all")
	eventually(t, "namespace emptied", 30*time.Second, func() (bool, string) {
		out, _, _ := c.Run(kr, "", "get", "all")
		return !strings.Contains(out, "pod/") && strings.Contains(out, "service/kubernetes") && !strings.Contains(out, "kubia-http"), out
	})

	// delete ns finishes (kubectl waits for it).
	c.MustRun(t, kr, "", "create", "namespace", "custom-namespace")
	c.MustRun(t, kr, "", "create", "-f", "testdata/kubia-manual.yaml", "-n", "custom-namespace")
	start := time.Now()
	mustContain(t, "delete ns", c.MustRun(t, kr, "", "delete", "ns", "custom-namespace"), `namespace "custom-namespace" deleted`)
	if _, err := c.Client.CoreV1().Namespaces().Get(context.Background(), "custom-namespace", metav1.GetOptions{}); err == nil {
		t.Fatalf("namespace still exists after kubectl delete ns returned (%v)", time.Since(start))
	}
}

// TestNodeLossMovesPods: pods on a hollow node that stops heartbeating are
// evicted after their toleration and recreated on the other nodes.
func TestNodeLossMovesPods(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{NodeMonitorGracePeriod: 3 * time.Second, TolerationSeconds: 2})
	ctx := context.Background()
	stops := map[string]context.CancelFunc{}
	for i := 1; i <= 3; i++ {
		nctx, cancel := context.WithCancel(ctx)
		name := fmt.Sprintf("node-%d", i)
		stops[name] = cancel
		t.Cleanup(cancel)
		n := hollow.New(c.Client, hollow.Options{Name: name, HeartbeatInterval: time.Second, StatusInterval: time.Second})
		go func() { _ = n.Run(nctx) }()
	}
	k := harness.BuiltinKubectl(t)
	c.MustRun(t, k, "", "run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--replicas=6")
	pods := c.Client.CoreV1().Pods("default")
	onNode := func(node string) (n int, running int) {
		list, _ := pods.List(ctx, metav1.ListOptions{LabelSelector: "run=kubia"})
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if node == "" || p.Spec.NodeName == node {
				n++
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
		}
		return
	}
	eventually(t, "6 running", 20*time.Second, func() (bool, string) {
		_, r := onNode("")
		return r == 6, fmt.Sprint(r)
	})
	if n, _ := onNode("node-3"); n == 0 {
		t.Fatal("no pod landed on node-3")
	}
	stops["node-3"]()
	eventually(t, "node-3 NotReady, its pods replaced on node-1 and node-2", 40*time.Second, func() (bool, string) {
		n3, _ := onNode("node-3")
		_, r := onNode("")
		out, _, _ := c.Run(k, "", "get", "nodes")
		return n3 == 0 && r == 6 && strings.Contains(out, "node-3   NotReady"), out
	})
}
