package streaming_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	portforwardconsts "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/tools/portforward"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/streaming/server"
	"github.com/skiffhq/skiff/pkg/streaming/streamtest"
)

const spdyExecRequest = "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer secret-token-for-the-api-server\r\n" +
	"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"

// webSocketRequest is a WebSocket handshake offering the subprotocol %s.
const webSocketRequest = "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer secret-token-for-the-api-server\r\n" +
	"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Protocol: %s\r\n\r\n"

// rawUpgrade sends an SPDY exec upgrade request (plus anything in extra,
// pipelined) on a fresh connection and returns the response and the
// connection.
func rawUpgrade(t *testing.T, conn net.Conn, path, host, extra string) (*http.Response, *bufio.Reader) {
	t.Helper()
	return rawRequest(t, conn, fmt.Sprintf(spdyExecRequest, path, host)+extra)
}

// rawRequest sends req on conn and reads the answer.
func rawRequest(t *testing.T, conn net.Conn, req string) (*http.Response, *bufio.Reader) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to a failed upgrade: %v", err)
	}
	return resp, br
}

// assertClosed fails unless the peer closes conn (EOF) without sending more.
func assertClosed(t *testing.T, conn net.Conn, br *bufio.Reader, resp *http.Response) {
	t.Helper()
	io.Copy(io.Discard, resp.Body)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	extra, err := io.ReadAll(br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open 5s after a failed upgrade")
	}
	if len(extra) > 0 {
		t.Fatalf("after a failed upgrade the server sent %q; want the connection closed", extra)
	}
}

// TestFailedUpgradeClosesConnection: whatever the runtime's streaming server
// answers instead of 101, the client gets a Status and a closed connection,
// and a redirect is not followed.
func TestFailedUpgradeClosesConnection(t *testing.T) {
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapped.Add(1)
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	defer trap.Close()
	misbehaving := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/") {
		case "error":
			http.Error(w, "streaming server exploded", http.StatusInternalServerError)
		case "redirect":
			http.Redirect(w, r, trap.URL+"/exec/stolen", http.StatusFound)
		case "ok":
			io.WriteString(w, "a plain 200 instead of an upgrade")
		}
	}))
	defer misbehaving.Close()

	c := newChain(t)
	c.running(pod("kubia", "main"))
	front := c.front.Listener.Addr().String()
	for _, tc := range []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"error", http.StatusInternalServerError, "streaming server exploded"},
		{"redirect", http.StatusBadGateway, "the backend attempted to redirect this request, which is not permitted"},
		{"ok", http.StatusBadGateway, "invalid upgrade response: status code 200"},
	} {
		for _, up := range []struct{ name, request string }{
			{"spdy exec", fmt.Sprintf(spdyExecRequest, "/api/v1/namespaces/default/pods/kubia/exec?command=echo&stdout=true", front)},
			{"websocket exec", fmt.Sprintf(webSocketRequest, "/api/v1/namespaces/default/pods/kubia/exec?command=echo&stdout=true", front, "v5.channel.k8s.io")},
			{"websocket port-forward", fmt.Sprintf(webSocketRequest, "/api/v1/namespaces/default/pods/kubia/portforward?ports=8080", front, "SPDY/3.1+portforward.k8s.io")},
		} {
			t.Run(tc.path+" "+up.name, func(t *testing.T) {
				c.rt.URLFor = func(streamtest.Request) (string, error) { return misbehaving.URL + "/" + tc.path, nil }
				conn, err := tls.Dial("tcp", front, c.front.Client().Transport.(*http.Transport).TLSClientConfig)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				// A second request pipelined after the upgrade must never be answered.
				smuggled := "GET /api/v1/namespaces/default/pods/kubia/log HTTP/1.1\r\nHost: x\r\n\r\n"
				resp, br := rawRequest(t, conn, up.request+smuggled)
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				if resp.StatusCode != tc.wantCode || !strings.Contains(string(body), tc.wantBody) {
					t.Errorf("answer = %d %s; want %d containing %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
				}
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Errorf("a redirect's Location reached the client: %s", loc)
				}
				assertClosed(t, conn, br, resp)
			})
		}
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("the redirect target was contacted %d times", n)
	}
}

// TestAgentFailedUpgradeClosesConnection checks the agent's own hop: the API
// server's connection to the agent is closed after a failed upgrade too.
func TestAgentFailedUpgradeClosesConnection(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Stop("default", "kubia", "main")
	conn, err := tls.Dial("tcp", c.agentAddr, c.apiTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, br := rawUpgrade(t, conn, "/exec/default/kubia/main?command=echo&output=1", c.agentAddr, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "is not running") {
		t.Errorf("agent answer = %d %s", resp.StatusCode, body)
	}
	assertClosed(t, conn, br, resp)
}

// fakeAgent records what reaches an agent and answers with answer.
type fakeAgent struct {
	mu      sync.Mutex
	headers []http.Header
	users   []string
}

func startFakeAgent(t *testing.T, ca *pki.CA, answer http.HandlerFunc) (*fakeAgent, string) {
	t.Helper()
	fa := &fakeAgent{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fa.mu.Lock()
		fa.headers = append(fa.headers, r.Header.Clone())
		if len(r.TLS.PeerCertificates) > 0 {
			fa.users = append(fa.users, r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		fa.mu.Unlock()
		answer(w, r)
	}))
	cert := keyPair(ca.SignServing("agent", nil, []net.IP{net.ParseIP("127.0.0.1")}))
	srv.TLS = server.TLSConfig(cert, ca.CertPool())
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return fa, srv.Listener.Addr().String()
}

// TestProxyHopToAgent: the proxy presents the API server's certificate, never
// the caller's token, and neither follows nor relays an agent's redirect.
func TestProxyHopToAgent(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { trapped.Add(1) }))
	defer trap.Close()
	fa, addr := startFakeAgent(t, c.ca, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.URL+"/containerLogs/kube-system/secret/c", http.StatusFound)
	})
	_, port, _ := net.SplitHostPort(addr)
	node, _ := c.pods.GetNode(context.Background(), "node-1")
	var p int32
	for _, ch := range port {
		p = p*10 + int32(ch-'0')
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = p
	c.pods.addNode(node)

	_, err := c.client.CoreV1().Pods("default").GetLogs("kubia", &corev1.PodLogOptions{}).Stream(context.Background())
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("logs from a redirecting agent: err = %v, want a refusal to redirect", err)
	}
	for _, transport := range transports {
		got := c.exec(t, transport, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true}, nil, nil)
		if got.err == nil || !strings.Contains(got.err.Error(), "redirect") {
			t.Errorf("%s exec via a redirecting agent: err = %v, want a refusal to redirect", transport, got.err)
		}
	}
	u := c.client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("kubia").SubResource("portforward").URL()
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.config)
	if err != nil {
		t.Fatal(err)
	}
	if conn, _, err := tunnel.Dial(portforwardconsts.PortForwardV1Name); err == nil || !strings.Contains(err.Error(), "redirect") {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("WebSocket port-forward via a redirecting agent: err = %v, want a refusal to redirect", err)
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("the redirect target was contacted %d times", n)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if len(fa.headers) != 4 {
		t.Fatalf("agent saw %d requests, want 4", len(fa.headers))
	}
	// The WebSocket requests reach the agent as the SPDY upgrades it speaks,
	// with nothing of the client's handshake.
	for i, want := range map[int]string{2: "v4.channel.k8s.io", 3: "portforward.k8s.io"} {
		h := fa.headers[i]
		if h.Get("Upgrade") != "SPDY/3.1" || h.Get("X-Stream-Protocol-Version") != want || h.Get("Sec-Websocket-Key") != "" || h.Get("Sec-Websocket-Protocol") != "" {
			t.Errorf("request %d from a WebSocket client reached the agent with %v; want a SPDY/3.1 upgrade offering %s", i, h, want)
		}
	}
	for i, h := range fa.headers {
		if h.Get("Authorization") != "" {
			t.Errorf("request %d carried the caller's Authorization header to the agent", i)
		}
		if fa.users[i] != server.APIServerUser {
			t.Errorf("request %d authenticated as %q, want %q", i, fa.users[i], server.APIServerUser)
		}
	}
	if v := fa.headers[1].Values("X-Stream-Protocol-Version"); len(v) == 0 {
		t.Errorf("exec upgrade lost X-Stream-Protocol-Version")
	}
}

// TestAgentAuthentication: only a cluster-CA certificate for the API server
// user gets in.
func TestAgentAuthentication(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Println("default", "kubia", "main", "stdout", "secret log line")
	other, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + c.agentAddr + "/containerLogs/default/kubia/main"
	for _, tc := range []struct {
		name     string
		certs    []tls.Certificate
		wantCode int
		wantErr  bool
	}{
		{"no certificate", nil, http.StatusUnauthorized, false},
		{"admin from the cluster CA", []tls.Certificate{keyPair(c.ca.SignClient("system:admin", []string{"system:masters"}))}, http.StatusForbidden, false},
		{"a node from the cluster CA", []tls.Certificate{keyPair(c.ca.SignClient("system:node:node-2", []string{"system:nodes"}))}, http.StatusForbidden, false},
		{"api server user from another CA", []tls.Certificate{keyPair(other.SignClient(server.APIServerUser, nil))}, 0, true},
		{"api server", c.apiTLS.Certificates, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: c.ca.CertPool()}
			if len(tc.certs) > 0 {
				// Present the certificate even when the agent's list of
				// acceptable CAs does not name its issuer.
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc.certs[0], nil }
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			resp, err := client.Get(url)
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %d, want the TLS handshake refused", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.wantCode)
			}
			if tc.wantCode != http.StatusOK && strings.Contains(string(body), "secret") {
				t.Errorf("refused request still got the log: %s", body)
			}
			if tc.wantCode == http.StatusOK && string(body) != "secret log line\n" {
				t.Errorf("body = %q", body)
			}
		})
	}
}

// TestLogPathConfinement: names that are not DNS names never reach the
// runtime, and a log path outside the log directory (directly or through a
// symlink) is refused.
func TestLogPathConfinement(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	secret := t.TempDir() + "/shadow"
	if err := os.WriteFile(secret, []byte(streamtest.Record(time.Now(), "stdout", "F", "root:secret")), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: c.apiTLS}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("https://" + c.agentAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{
		"/containerLogs/default/kubia/..%2F..%2F..%2Fshadow",
		"/containerLogs/default/..%2F..%2F/main",
		"/containerLogs/..%2F..%2F/kubia/main",
		"/containerLogs/default/kubia/../../../../etc/passwd",
		"/containerLogs/default/kubia/main/../../x/y",
		"/containerLogs/default/kubia/%00",
		"/containerLogs/default/kubia/.",
		"/containerLogs/default/kubia/..",
	} {
		code, body := get(path)
		if code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Errorf("GET %s = %d %s; want 400 or 404", path, code, body)
		}
		if strings.Contains(body, "root:secret") {
			t.Errorf("GET %s leaked the file", path)
		}
	}

	// A runtime that names a file outside the log directory, directly or
	// through a symlink inside it.
	link := c.rt.LogDir + "/default_kubia_uid/main/0.log"
	os.Remove(link)
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	code, body := get("/containerLogs/default/kubia/main")
	if code != http.StatusForbidden || strings.Contains(body, "root:secret") {
		t.Errorf("log through a symlink out of the log dir = %d %s; want 403", code, body)
	}
	// A runtime that names files it should not: outside the log directory,
	// another pod's log, a file of the pod that is not a log.
	other := c.rt.LogDir + "/kube-system_vault_uid/main/0.log"
	hosts := c.rt.LogDir + "/default_kubia_uid/_hosts"
	for _, p := range []string{other, hosts} {
		os.MkdirAll(p[:strings.LastIndex(p, "/")], 0o755)
		os.WriteFile(p, []byte(streamtest.Record(time.Now(), "stdout", "F", "root:secret")), 0o644)
	}
	for _, path := range []string{secret, other, hosts, c.rt.LogDir + "/default_kubia_uid/../kube-system_vault_uid/main/0.log"} {
		confined := startAgent(t, c.ca, server.Config{Runtime: outsideRuntime{c.rt, path}, LogDir: c.rt.LogDir})
		resp, err := client.Get("https://" + confined + "/containerLogs/default/kubia/main")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "root:secret") {
			t.Errorf("runtime path %s = %d %s; want 403", path, resp.StatusCode, b)
		}
	}
}

type outsideRuntime struct {
	*streamtest.Runtime
	path string
}

func (r outsideRuntime) ContainerLogPath(string, string, string, bool) (string, error) {
	return r.path, nil
}
