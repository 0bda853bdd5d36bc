package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestKubernetesServiceEndpoints: the kubernetes Service's Endpoints and its
// EndpointSlice (which service proxies read) name --node-ip and the API port.
func TestKubernetesServiceEndpoints(t *testing.T) {
	port := freePort(t)
	s, err := New(Config{DataDir: t.TempDir(), BindAddress: "127.0.0.1", HTTPSPort: port, NodeIP: "10.99.0.7",
		DisableAgent: true, DisableControllers: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	ep, err := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s:%d", ep.Subsets[0].Addresses[0].IP, ep.Subsets[0].Ports[0].Port); got != fmt.Sprintf("10.99.0.7:%d", port) {
		t.Fatalf("Endpoints kubernetes = %s", got)
	}
	sl, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("EndpointSlice kubernetes: %v", err)
	}
	if sl.Labels["kubernetes.io/service-name"] != "kubernetes" || len(sl.Endpoints) != 1 || sl.Endpoints[0].Addresses[0] != "10.99.0.7" ||
		sl.Endpoints[0].Conditions.Ready == nil || !*sl.Endpoints[0].Conditions.Ready || *sl.Ports[0].Port != int32(port) {
		t.Fatalf("EndpointSlice kubernetes = %+v", sl)
	}
}

// TestClusterDNSService: the server makes kube-system/kube-dns as upstream's
// add-on has it, at the 10th address of the service range, with no selector
// and traffic kept on the node; deleted, it comes back.
func TestClusterDNSService(t *testing.T) {
	s, stop := start(t, t.TempDir(), freePort(t))
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	services := kubernetes.NewForConfigOrDie(cfg).CoreV1().Services("kube-system")
	ctx := context.Background()
	check := func(svc *corev1.Service) {
		t.Helper()
		var ports []string
		for _, p := range svc.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%s %d/%s->%s", p.Name, p.Port, p.Protocol, p.TargetPort.String()))
		}
		labels := fmt.Sprint(svc.Labels)
		if got := strings.Join(ports, ", "); got != "dns 53/UDP->53, dns-tcp 53/TCP->53" {
			t.Errorf("ports %s", got)
		}
		if labels != "map[k8s-app:kube-dns kubernetes.io/cluster-service:true kubernetes.io/name:KubeDNS]" {
			t.Errorf("labels %s", labels)
		}
		if svc.Spec.ClusterIP != "10.43.0.10" || svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Selector != nil ||
			svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
			t.Errorf("spec %+v", svc.Spec)
		}
	}
	svc, err := services.Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check(svc)
	if err := services.Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		svc, err = services.Get(ctx, "kube-dns", metav1.GetOptions{})
		if err == nil || !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("kube-dns after it was deleted: %v", err)
	}
	check(svc)
}

// TestClusterDNSAddressTaken: when another Service holds the cluster DNS
// address, bootstrap goes on without kube-dns and warns once however often
// it runs; once the address is free, kube-dns is made. A kube-dns someone
// else made is kept as it is.
func TestClusterDNSAddressTaken(t *testing.T) {
	_, serviceNet, _ := net.ParseCIDR("10.43.0.0/16")
	reg := registry.New(registry.Options{ServiceCIDR: serviceNet})
	api := apiserver.New(apiserver.Config{Storage: memory.New(), Registry: reg, Version: Version})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-api.Ready()

	var logs bytes.Buffer
	dns := &dnsService{ip: "10.43.0.10", log: slog.New(slog.NewTextHandler(&logs, nil))}
	run := func() {
		t.Helper()
		if err := bootstrap(ctx, api, reg, serviceNet, nil, 6443, nil, dns); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
	}
	res := reg.Lookup("v1", "services")
	service := func(ns, name string) *corev1.Service {
		i := slices.IndexFunc(api.List("v1", "services"), func(o runtime.Object) bool {
			s := o.(*corev1.Service)
			return s.Namespace == ns && s.Name == name
		})
		if i < 0 {
			return nil
		}
		return api.List("v1", "services")[i].(*corev1.Service)
	}

	squatter := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "squatter"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.10", Ports: []corev1.ServicePort{{Port: 80}}}}
	run() // the namespaces
	if err := api.Delete(ctx, res, "kube-system", "kube-dns", &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Create(ctx, res, "default", squatter); err != nil {
		t.Fatal(err)
	}
	run()
	run()
	if svc := service("kube-system", "kube-dns"); svc != nil {
		t.Fatalf("kube-dns made at %s while default/squatter holds 10.43.0.10", svc.Spec.ClusterIP)
	}
	if got := logs.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "address=10.43.0.10 service=default/squatter") ||
		!strings.Contains(got, "--cluster-dns") {
		t.Errorf("logs:\n%s\nwant one warning naming the address, default/squatter and --cluster-dns", got)
	}

	if err := api.Delete(ctx, res, "default", "squatter", &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	run()
	if svc := service("kube-system", "kube-dns"); svc == nil || svc.Spec.ClusterIP != "10.43.0.10" {
		t.Fatalf("kube-dns once the address is free: %+v", svc)
	}

	// One made by hand (say, an older cluster's) stays as it is.
	if err := api.Delete(ctx, res, "kube-system", "kube-dns", &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	own := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Labels: map[string]string{"k8s-app": "coredns"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.53", Selector: map[string]string{"k8s-app": "coredns"},
			Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}}
	if _, err := api.Create(ctx, res, "kube-system", own); err != nil {
		t.Fatal(err)
	}
	run()
	if svc := service("kube-system", "kube-dns"); svc == nil || svc.Spec.ClusterIP != "10.43.0.53" || svc.Labels["k8s-app"] != "coredns" {
		t.Fatalf("a kube-dns made by hand was replaced: %+v", svc)
	}
}
