package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/harness"
)

// TestClusterDNS: the server makes the kube-dns Service at the 10th address
// of the Service range, and its EndpointSlice lists the nodes that announce a
// DNS server (hollow nodes announce none until one is annotated by hand).
func TestClusterDNS(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 2})
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }

	out := run("get", "svc", "-n", "kube-system", "kube-dns", "--no-headers")
	if f := strings.Fields(out); len(f) < 5 || f[1] != "ClusterIP" || f[2] != "10.43.0.10" || f[4] != "53/UDP,53/TCP" {
		t.Fatalf("kubectl get svc -n kube-system kube-dns:\n%s", out)
	}
	eventually(t, "the kube-dns slice, empty", 15*time.Second, func() (bool, string) {
		out, _, _ := c.Run(k, "", "get", "endpointslices", "-n", "kube-system", "kube-dns-nodes", "--no-headers")
		f := strings.Fields(out)
		return len(f) >= 4 && f[1] == "IPv4" && f[2] == "53,53" && f[3] == "<unset>", out
	})

	run("annotate", "node", "hollow-2", "skiff.io/cluster-dns=10.42.2.1")
	run("annotate", "node", "hollow-1", "skiff.io/cluster-dns=10.42.1.1")
	eventually(t, "both announced servers in the kube-dns slice", 15*time.Second, func() (bool, string) {
		out, _, _ := c.Run(k, "", "get", "endpointslices", "-n", "kube-system", "kube-dns-nodes", "--no-headers")
		f := strings.Fields(out)
		return len(f) >= 4 && f[3] == "10.42.1.1,10.42.2.1", out
	})
	out = run("get", "endpointslices", "-n", "kube-system", "kube-dns-nodes",
		"-o", `jsonpath={range .endpoints[*]}{.nodeName} {.addresses[0]} {.conditions.ready}{"\n"}{end}`)
	if out != "hollow-1 10.42.1.1 true\nhollow-2 10.42.2.1 true\n" {
		t.Errorf("endpoints of kube-dns-nodes:\n%s", out)
	}
}
