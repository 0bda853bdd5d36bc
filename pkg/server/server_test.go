package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a server on dir until the returned stop is called.
func start(t *testing.T, dir string, port int) (*Server, func()) {
	t.Helper()
	s, err := New(Config{DataDir: dir, BindAddress: "127.0.0.1", HTTPSPort: port, DisableAgent: true, DisableControllers: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server failed: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	return s, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
}

// TestServerFrontDoor: kubeconfig written 0600 and working, anonymous requests
// answered only for health and the version (403 elsewhere, 401 from the
// registry, as upstream and registries do), the loopback client works, and a
// restart on the same data dir keeps both the objects and the CA.
func TestServerFrontDoor(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	s, stop := start(t, dir, port)
	fi, err := os.Stat(filepath.Join(dir, "kubeconfig.yaml"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v mode %v", err, fi.Mode())
	}
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for path, want := range map[string]int{"/api/v1/pods": http.StatusForbidden, "/apis": http.StatusForbidden,
		"/healthz": http.StatusOK, "/version": http.StatusOK, "/v2/": http.StatusUnauthorized} {
		resp, err := anon.Get("https://127.0.0.1:" + strconv.Itoa(port) + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("anonymous GET %s = %d %s, want %d", path, resp.StatusCode, body, want)
		}
	}
	lc, err := kubernetes.NewForConfig(s.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lc.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("loopback create: %v", err)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "server", "tls", "ca.crt"))
	stop()

	_, stop = start(t, dir, port)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(cfg)
	if _, err := kc.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	svc, err := kc.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.43.0.1" {
		t.Fatalf("kubernetes service: %v %v", err, svc)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "server", "tls", "ca.crt"))
	if string(caBefore) != string(caAfter) {
		t.Fatal("CA changed across restart")
	}
	for _, ns := range SystemNamespaces {
		if _, err := kc.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("default service account in %s: %v", ns, err)
		}
	}
}

// TestExternalAndEmbeddedEtcdRefused: --datastore-endpoint with --cluster-init
// is refused with the reason, rather than one of them silently ignored.
func TestExternalAndEmbeddedEtcdRefused(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), BindAddress: "127.0.0.1", HTTPSPort: freePort(t), DisableAgent: true, DisableControllers: true,
		ClusterInit: true, Datastore: Datastore{Endpoints: []string{"https://127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "use one or the other") {
		t.Fatalf("a server with both an external and an embedded etcd: %v", err)
	}
}
