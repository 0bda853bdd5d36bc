package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
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
