package ipaddress_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/ipaddress"
	"github.com/skiffhq/skiff/test/harness"
)

// startCluster starts an API server without its control loops, and without
// the dashboard, so that the Services are the bootstrap's two (kubernetes and
// kube-dns) and the test's own.
func startCluster(t *testing.T) *harness.Cluster {
	return harness.StartCluster(t, harness.Options{DisableControllers: true, Disable: []string{"dashboard"}})
}

// startController runs the controller against c's API server. writes counts
// its writes to IPAddresses (the API server drops a no-op update, so only the
// requests tell one apart).
func startController(t *testing.T, c *harness.Cluster) (writes *atomic.Int64) {
	t.Helper()
	writes = new(atomic.Int64)
	rc := rest.CopyConfig(c.Config)
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/ipaddresses") {
				writes.Add(1)
			}
			return next.RoundTrip(r)
		})
	})
	own := kubernetes.NewForConfigOrDie(rc)
	factory := informers.NewSharedInformerFactory(own, 0)
	controllertest.Run(t, factory, ipaddress.New(own, factory, ipaddress.Options{}))
	return writes
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// addresses renders the IPAddresses as `kubectl get ipaddresses` lists them,
// with their labels: one "NAME PARENTREF family managed-by" line each.
func addresses(cs kubernetes.Interface) string {
	list, err := cs.NetworkingV1().IPAddresses().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, ip := range list.Items {
		ref := ip.Spec.ParentRef
		parent := ref.Resource
		if ref.Group != "" {
			parent += "." + ref.Group
		}
		lines = append(lines, fmt.Sprintf("%s %s/%s/%s %s %s", ip.Name, parent, ref.Namespace, ref.Name,
			ip.Labels[networkingv1.LabelIPAddressFamily], ip.Labels[networkingv1.LabelManagedBy]))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func waitAddresses(t *testing.T, cs kubernetes.Interface, want ...string) {
	t.Helper()
	slices.Sort(want)
	w := strings.Join(want, "\n")
	controllertest.Eventually(t, "the IPAddresses:\n"+w, func() (bool, string) {
		got := addresses(cs)
		return got == w, got
	})
}

func owned(ip, ns, name string) string {
	return fmt.Sprintf("%s services/%s/%s IPv4 ipallocator.k8s.io", ip, ns, name)
}

var (
	kubernetesIP = owned("10.43.0.1", "default", "kubernetes")
	kubeDNSIP    = owned("10.43.0.10", "kube-system", "kube-dns")
)

func createService(t *testing.T, cs kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	t.Helper()
	if svc.Namespace == "" {
		svc.Namespace = "default"
	}
	if svc.Spec.Ports == nil && svc.Spec.Type != corev1.ServiceTypeExternalName {
		svc.Spec.Ports = []corev1.ServicePort{{Port: 80}}
	}
	got, err := cs.CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func named(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

// TestIPAddressesFollowServices: the bootstrap Services and every Service
// made after get an IPAddress on each ClusterIP, headless and ExternalName
// Services none; one goes with its Service, or when the Service turns
// ExternalName; a deleted one comes back, a relabelled one is put right;
// and nothing is written while all is in order.
func TestIPAddressesFollowServices(t *testing.T) {
	c := startCluster(t)
	cs := c.Client
	ctx := context.Background()
	writes := startController(t, c)
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP)

	web := createService(t, cs, &corev1.Service{ObjectMeta: named("web")})
	createService(t, cs, &corev1.Service{ObjectMeta: named("headless"), Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}})
	ext := createService(t, cs, &corev1.Service{ObjectMeta: named("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}})
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "web"))

	// An ExternalName Service turning ClusterIP gets an address, and lets it
	// go turning back.
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
	ext.Spec.Ports = []corev1.ServicePort{{Port: 80}}
	ext, err := cs.CoreV1().Services("default").Update(ctx, ext, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	extIP := owned(ext.Spec.ClusterIP, "default", "ext")
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "web"), extIP)
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
	if _, err := cs.CoreV1().Services("default").Update(ctx, ext, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "web"))

	// Nothing to write while the addresses are in order.
	before := writes.Load()
	web.Labels = map[string]string{"team": "web"}
	if web, err = cs.CoreV1().Services("default").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // for a write that should not come
	if n := writes.Load() - before; n != 0 {
		t.Errorf("%d IPAddress writes for a Service's label", n)
	}

	ips := cs.NetworkingV1().IPAddresses()
	if err := ips.Delete(ctx, web.Spec.ClusterIP, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "web"))

	ip, err := ips.Get(ctx, "10.43.0.10", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(ip.Labels, networkingv1.LabelIPAddressFamily)
	ip.Labels["team"] = "dns"
	if _, err := ips.Update(ctx, ip, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "web"))
	if ip, err := ips.Get(ctx, "10.43.0.10", metav1.GetOptions{}); err != nil || ip.Labels["team"] != "dns" {
		t.Errorf("a label someone added was dropped: %v %v", ip.Labels, err)
	}

	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP)
	// And the address is free again for a Service that asks for it.
	again := &corev1.Service{ObjectMeta: named("again"), Spec: corev1.ServiceSpec{ClusterIP: web.Spec.ClusterIP}}
	createService(t, cs, again)
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP, owned(web.Spec.ClusterIP, "default", "again"))
}

// TestOthersIPAddresses: an IPAddress another manager made takes its address
// from Services (the API server refuses it to one asking, in upstream's
// words), and the controller never touches it, even on a Service's address;
// one of ours left over from a Service that went while the controller was
// down is cleaned up, and the Services that were made meanwhile get theirs.
func TestOthersIPAddresses(t *testing.T) {
	c := startCluster(t)
	cs := c.Client
	ctx := context.Background()
	ips := cs.NetworkingV1().IPAddresses()
	create := func(ip *networkingv1.IPAddress) *networkingv1.IPAddress {
		t.Helper()
		got, err := ips.Create(ctx, ip, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	gateway := &networkingv1.ParentReference{Group: "gateway.networking.k8s.io", Resource: "gateways", Namespace: "default", Name: "gw"}

	// Reserved by hand: no Service gets it.
	reserved := create(&networkingv1.IPAddress{ObjectMeta: named("10.43.0.20"), Spec: networkingv1.IPAddressSpec{ParentRef: gateway}})
	_, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: named("wants-20"),
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if want := `Service "wants-20" is invalid: spec.clusterIP: Invalid value: "10.43.0.20": failed to allocate IP 10.43.0.20: provided IP is already allocated`; !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("a Service asking for a reserved address: %v\nwant: %s", err, want)
	}

	// Made on a Service's address before the controller wrote the Service's
	// own: the clash is the user's to settle.
	web := createService(t, cs, &corev1.Service{ObjectMeta: named("web")})
	clash := create(&networkingv1.IPAddress{ObjectMeta: named(web.Spec.ClusterIP), Spec: networkingv1.IPAddressSpec{ParentRef: gateway}})
	// Ours, but its Service is gone.
	create(ipaddress.For("10.43.0.30", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gone"}}))

	startController(t, c)
	waitAddresses(t, cs, kubernetesIP, kubeDNSIP,
		"10.43.0.20 gateways.gateway.networking.k8s.io/default/gw  ",
		web.Spec.ClusterIP+" gateways.gateway.networking.k8s.io/default/gw  ")
	for _, want := range []*networkingv1.IPAddress{reserved, clash} {
		got, err := ips.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil || got.ResourceVersion != want.ResourceVersion || len(got.Labels) != 0 {
			t.Errorf("another's IPAddress %s was touched: %v, labels %v, resourceVersion %s (was %s)", want.Name, err, got.Labels, got.ResourceVersion, want.ResourceVersion)
		}
	}
}
