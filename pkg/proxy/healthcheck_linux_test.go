package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// probe is one GET of a health check node port from another host on the
// node's link, as a load balancer sends it.
type probe struct {
	code int
	body healthResponse
	raw  string
	err  error
}

func probeFrom(nsPath, url string) probe {
	resp, err := client(nsPath).Get(url)
	if err != nil {
		return probe{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	pr := probe{code: resp.StatusCode, raw: string(b), err: err}
	if err == nil && resp.Header.Get("Content-Type") == "application/json" {
		pr.err = json.Unmarshal(b, &pr.body)
	}
	return pr
}

// TestHealthCheckNodePort probes a Local LoadBalancer's health check node port
// from another host: 503 while this node has no ready endpoint, 200 once it
// has one, 503 again when it goes; the port closes when the Service stops
// wanting it, and a port something else holds does not stop the proxy.
func TestHealthCheckNodePort(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	port := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30091}
	web := svc("web", v1.ServiceTypeLoadBalancer, "10.43.0.50", port)
	web.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	web.Spec.HealthCheckNodePort = 32100
	// Only a remote endpoint to start with: pod-b runs on node-2.
	webSlice := slice("web", port, 8080, epOn("10.42.0.3", "node-2"))

	// Something on the node already holds the port another Service asks for.
	var squatter net.Listener
	if err := inNetNS(n.nodePath, func() (err error) {
		squatter, err = net.Listen("tcp", ":32101")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	squatterSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "squatter") })}
	go squatterSrv.Serve(squatter)
	defer squatterSrv.Close()
	taken := svc("taken", v1.ServiceTypeLoadBalancer, "10.43.0.51", v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30092})
	taken.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	taken.Spec.HealthCheckNodePort = 32101

	kube := fake.NewClientset(web, webSlice, taken)
	startProxy(t, kube, n)
	ctx := context.Background()
	const url = "http://192.168.77.2:32100/healthz"

	want := func(what string, code, local int) {
		t.Helper()
		var last probe
		waitFor(t, what, func() bool {
			last = probeFrom(n.clientPath, url)
			return last.err == nil && last.code == code && last.body.LocalEndpoints == local
		})
		b := last.body
		if b.Service.Namespace != "default" || b.Service.Name != "web" || !b.ServiceProxyHealthy {
			t.Fatalf("%s: body %s, want service default/web and serviceProxyHealthy true", what, last.raw)
		}
	}
	want("503 with no local endpoint", http.StatusServiceUnavailable, 0)
	if pr := probeFrom(n.clientPath, "http://192.168.77.2:32101/healthz"); pr.err != nil || pr.code != http.StatusOK || pr.raw != "squatter" {
		t.Fatalf("the port something else held: %d %q %v, want its owner still answering", pr.code, pr.raw, pr.err)
	}

	// Once the port is free, the next sync takes it.
	squatterSrv.Close()
	webSlice.Endpoints = append(webSlice.Endpoints, epOn("10.42.0.2", "node-1"))
	updateSlice(t, kube, webSlice)
	want("200 once pod-a on this node is ready", http.StatusOK, 1)
	waitFor(t, "the freed port served for its Service", func() bool {
		pr := probeFrom(n.clientPath, "http://192.168.77.2:32101/healthz")
		return pr.err == nil && pr.code == http.StatusServiceUnavailable && pr.body.Service.Name == "taken"
	})
	if pr := probeFrom(n.clientPath, url); pr.raw != "{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"web\"\n\t},\n\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}" {
		t.Errorf("body %q, want kube-proxy's", pr.raw)
	}

	webSlice.Endpoints[1].Conditions.Ready = ptr.To(false)
	updateSlice(t, kube, webSlice)
	want("503 when the local endpoint is not ready", http.StatusServiceUnavailable, 0)

	// Cluster policy: no health check, the port closes.
	web.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
	web.Spec.HealthCheckNodePort = 0
	if _, err := kube.CoreV1().Services("default").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the health check node port closed", func() bool {
		return errors.Is(probeFrom(n.clientPath, url).err, syscall.ECONNREFUSED)
	})
}
