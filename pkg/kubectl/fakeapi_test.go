package kubectl

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// fakeAPIServer answers discovery for pods, replicationcontrollers and services
// and accepts creates of them, remembering each request. It is enough for
// `kubectl run`; the real API server is exercised by the end-to-end tests.
type fakeAPIServer struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []string
	bodies map[string]string
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	s := &fakeAPIServer{bodies: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeAPIServer) serve(w http.ResponseWriter, r *http.Request) {
	request := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		request += "?" + r.URL.RawQuery
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, request)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api":
		io.WriteString(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`)
	case r.Method == http.MethodGet && r.URL.Path == "/version":
		io.WriteString(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2","platform":"linux/amd64"}`)
	case r.Method == http.MethodGet && r.URL.Path == "/apis":
		io.WriteString(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1":
		io.WriteString(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[
			{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["create","get","list"]},
			{"name":"replicationcontrollers","singularName":"replicationcontroller","namespaced":true,"kind":"ReplicationController","verbs":["create","get","list"]},
			{"name":"services","singularName":"service","namespaced":true,"kind":"Service","verbs":["create","get","list"]}]}`)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"):
		// Echo the object back as created, in its namespace. The typed client
		// sends protobuf, upstream's run JSON; both are kept as JSON.
		obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
		obj.(metav1.Object).SetNamespace(strings.Split(r.URL.Path, "/")[4])
		created, err := json.Marshal(obj)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		s.bodies[r.Method+" "+r.URL.Path] = string(created)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		w.Write(created)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	}
}

func (s *fakeAPIServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = nil
	s.bodies = map[string]string{}
}

func (s *fakeAPIServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *fakeAPIServer) saw(request string) bool {
	for _, r := range s.requests() {
		if r == request {
			return true
		}
	}
	return false
}

func (s *fakeAPIServer) sawCreate() bool {
	for _, r := range s.requests() {
		if strings.HasPrefix(r, "POST ") {
			return true
		}
	}
	return false
}

// body is the object last created by a request with this method and path, as JSON.
func (s *fakeAPIServer) body(request string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[request]
}
