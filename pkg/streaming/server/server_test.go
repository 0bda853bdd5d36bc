package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/streaming/server"
	"github.com/skiffhq/skiff/pkg/streaming/streamtest"
)

// asAPIServer marks a request as coming from a verified API server certificate.
func asAPIServer(r *http.Request) *http.Request {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: server.APIServerUser}}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
	return r
}

func TestRouting(t *testing.T) {
	rt := streamtest.New(t)
	rt.AddContainer("ns", "pod", "c")
	s, err := server.New(server.Config{Runtime: rt, LogDir: rt.LogDir})
	if err != nil {
		t.Fatal(err)
	}
	spdy := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}}
	ws := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}}
	for _, tc := range []struct {
		method, path string
		header       http.Header
		code         int
		body         string
	}{
		{"GET", "/containerLogs/ns/pod/c", nil, 200, ""},
		{"POST", "/containerLogs/ns/pod/c", nil, 405, "MethodNotAllowed"},
		{"GET", "/containerLogs/ns/pod", nil, 404, "serves no"},
		{"GET", "/metrics", nil, 503, "serves no metrics"},
		{"GET", "/stats/summary", nil, 404, "serves no"},
		{"GET", "/healthz", nil, 200, "ok"},
		{"POST", "/healthz", nil, 405, "MethodNotAllowed"},
		{"GET", "/pods", nil, 503, "does not list its pods"},
		{"GET", "/containerLogs/ns/pod/c?tailLines=-3", nil, 422, "tailLines"},
		{"GET", "/containerLogs/NS/pod/c", nil, 400, "invalid namespace name"},
		{"POST", "/exec/ns/pod/c?command=ls&output=1", nil, 400, "Upgrade request required"},
		{"GET", "/exec/ns/pod/c?command=ls&output=1", ws, 400, "over WebSocket is not supported"},
		{"GET", "/portForward/ns/pod", ws, 400, "over WebSocket is not supported"},
		{"POST", "/exec/ns/pod/c?output=1", spdy, 400, "you must specify a command"},
		{"POST", "/exec/ns/pod/c?command=ls", spdy, 400, "at least 1 of stdin, stdout, stderr"},
		{"POST", "/portForward/ns/pod?port=99999", spdy, 400, "invalid port"},
		{"DELETE", "/attach/ns/pod/c", nil, 405, "MethodNotAllowed"},
	} {
		r := asAPIServer(httptest.NewRequest(tc.method, tc.path, nil))
		for k, v := range tc.header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, w.Code, w.Body, tc.code, tc.body)
		}
		if tc.header != nil && w.Header().Get("Connection") != "close" {
			t.Errorf("%s %s: a refused upgrade did not close the connection", tc.method, tc.path)
		}
	}
	r := httptest.NewRequest("GET", "/containerLogs/ns/pod/c", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if body, _ := io.ReadAll(w.Body); w.Code != 401 {
		t.Errorf("without a certificate: %d %s", w.Code, body)
	}
}

// listingRuntime is a Runtime that lists its node's pods.
type listingRuntime struct {
	*streamtest.Runtime
	pods []*corev1.Pod
}

func (l listingRuntime) NodePods() ([]*corev1.Pod, error) { return l.pods, nil }

// TestPods: /pods answers the node's pods as a PodList, as the kubelet's.
func TestPods(t *testing.T) {
	rt := listingRuntime{Runtime: streamtest.New(t), pods: []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "default"}}}}
	s, err := server.New(server.Config{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, asAPIServer(httptest.NewRequest("GET", "/pods", nil)))
	var list corev1.PodList
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "kubia" {
		t.Errorf("/pods = %d %s (%v)", w.Code, w.Body, err)
	}
}
