package streaming_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/streaming/proxy"
	"github.com/skiffhq/skiff/pkg/streaming/server"
	"github.com/skiffhq/skiff/pkg/streaming/streamtest"
)

// chain is client → front (a stand-in for the API server's routing) → proxy →
// agent server (TLS, client certificate) → streamtest runtime.
type chain struct {
	rt        *streamtest.Runtime
	pods      *getter
	ca        *pki.CA
	agentAddr string
	front     *httptest.Server
	config    *rest.Config
	client    kubernetes.Interface
	// apiTLS is the proxy's TLS configuration toward agents.
	apiTLS *tls.Config
}

// getter is an in-memory proxy.Getter.
type getter struct {
	mu    sync.Mutex
	pods  map[string]*corev1.Pod
	nodes map[string]*corev1.Node
}

func (g *getter) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.pods[namespace+"/"+name]; ok {
		return p.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
}

func (g *getter) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, ok := g.nodes[name]; ok {
		return n.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
}

func (g *getter) addPod(p *corev1.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pods[p.Namespace+"/"+p.Name] = p
}

func (g *getter) addNode(n *corev1.Node) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes[n.Name] = n
}

func pod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "kubia"})
	}
	return p
}

// keyPair takes what pki's Sign* return.
func keyPair(certPEM, keyPEM []byte, err error) tls.Certificate {
	if err != nil {
		panic(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	return c
}

// startAgent serves the agent's streaming API for rt on a loopback port.
func startAgent(t testing.TB, ca *pki.CA, cfg server.Config) string {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cert := keyPair(ca.SignServing("agent", nil, []net.IP{net.ParseIP("127.0.0.1")}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, server.TLSConfig(cert, ca.CertPool())) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent server: %v", err)
		}
	})
	return ln.Addr().String()
}

func newChain(t testing.TB) *chain {
	t.Helper()
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &chain{
		rt:   streamtest.New(t),
		pods: &getter{pods: map[string]*corev1.Pod{}, nodes: map[string]*corev1.Node{}},
		ca:   ca,
	}
	c.agentAddr = startAgent(t, ca, server.Config{Runtime: c.rt, LogDir: c.rt.LogDir})
	_, portStr, _ := net.SplitHostPort(c.agentAddr)
	var port int32
	fmt.Sscan(portStr, &port)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	c.pods.addNode(node)

	c.apiTLS = &tls.Config{
		Certificates: []tls.Certificate{keyPair(ca.SignClient(server.APIServerUser, nil))},
		RootCAs:      ca.CertPool(),
	}
	p, err := proxy.New(proxy.Config{Getter: c.pods, TLS: c.apiTLS})
	if err != nil {
		t.Fatal(err)
	}
	c.front = httptest.NewUnstartedServer(frontHandler(p))
	c.front.StartTLS()
	t.Cleanup(c.front.Close)
	c.config = &rest.Config{
		Host:            c.front.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.front.Certificate().Raw})},
		BearerToken:     "secret-token-for-the-api-server",
	}
	if c.client, err = kubernetes.NewForConfig(c.config); err != nil {
		t.Fatal(err)
	}
	return c
}

// frontHandler routes /api/v1/namespaces/NS/pods/NAME/SUB to the proxy, as the
// API server does once it has authenticated the caller.
func frontHandler(p interface {
	ServePodStream(http.ResponseWriter, *http.Request, string, string, string)
}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 7 || parts[0] != "api" || parts[2] != "namespaces" || parts[4] != "pods" {
			http.NotFound(w, r)
			return
		}
		p.ServePodStream(w, r, parts[3], parts[5], parts[6])
	})
}

// running adds a scheduled, running pod whose containers exist in the runtime.
func (c *chain) running(p *corev1.Pod) *corev1.Pod {
	c.pods.addPod(p)
	for _, ct := range p.Spec.Containers {
		c.rt.AddContainer(p.Namespace, p.Name, ct.Name)
	}
	return p
}
