package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/harness"
)

// TestServiceIPAddresses: every ClusterIP is listed by `kubectl get
// ipaddresses` under its own address, naming its Service and labelled as
// upstream's allocator labels it, the bootstrap's kubernetes and kube-dns
// Services' among them; a Service's goes a few seconds after the Service,
// and a Service may then have its address.
func TestServiceIPAddresses(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }
	get := func() string {
		out, _, _ := c.Run(k, "", "get", "ipaddresses", "-L", "ipaddress.kubernetes.io/ip-family,ipaddress.kubernetes.io/managed-by")
		return out
	}

	eventually(t, "the bootstrap Services' IPAddresses", 15*time.Second, func() (bool, string) {
		out := get()
		return hasLine(out, "NAME", "PARENTREF", "IP-FAMILY", "MANAGED-BY") &&
			hasRow(out, "10.43.0.1", "services/default/kubernetes", "IPv4", "ipallocator.k8s.io") &&
			hasRow(out, "10.43.0.10", "services/kube-system/kube-dns", "IPv4", "ipallocator.k8s.io"), out
	})

	run("create", "service", "clusterip", "web", "--tcp=80:8080")
	ip := run("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
	eventually(t, "the IPAddress of web's ClusterIP "+ip, 15*time.Second, func() (bool, string) {
		out := get()
		return hasRow(out, ip, "services/default/web", "IPv4", "ipallocator.k8s.io"), out
	})

	run("delete", "service", "web")
	eventually(t, "the IPAddress of the deleted web gone", 5*time.Second, func() (bool, string) {
		out := get()
		return !strings.Contains(out, ip+" "), out
	})
	run("create", "service", "clusterip", "again", "--tcp=80:8080", "--clusterip="+ip)
	eventually(t, "the address in use again", 15*time.Second, func() (bool, string) {
		out := get()
		return hasRow(out, ip, "services/default/again", "IPv4", "ipallocator.k8s.io"), out
	})
}
