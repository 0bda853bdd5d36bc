package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

func configMaps() *Resource {
	return &Resource{GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Name: "configmaps", Namespaced: true,
		New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }}
}

// startShared runs a server that shares store with others.
func startShared(t *testing.T, store storage.Backend) *Server {
	t.Helper()
	s := New(Config{Storage: store, Registry: NewRegistry(configMaps()), SharedStorage: true})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	return s
}

func getStatus(t *testing.T, s *Server, path string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	s.serveList(w, r.WithContext(withUser(r.Context(), User{Name: "admin", Groups: []string{MastersGroup}})), request{res: s.reg.Lookup("v1", "configmaps"), namespace: "default"})
	return w.Code, time.Since(start)
}

// unreachable is a datastore cut off from its quorum: reads of its revision fail.
type unreachable struct{ storage.Backend }

func (unreachable) CurrentRevision(context.Context) (int64, error) {
	return 0, errors.New("etcdserver: no leader")
}

// Get waits, as a quorum read does, before it fails.
func (unreachable) Get(ctx context.Context, _ string) (storage.KeyValue, error) {
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	return storage.KeyValue{}, errors.New("etcdserver: request timed out")
}

// TestConsistentReadNeedsTheDatastore: on a shared datastore, a read of the
// latest state is refused (503) when the datastore cannot say its revision,
// rather than served from a cache that may be stale; a read at any revision
// ("0") is still served from the cache.
func TestConsistentReadNeedsTheDatastore(t *testing.T) {
	// The object is written by a server, as the one cut off then loads it.
	store := memory.New()
	writer := startShared(t, store)
	if _, err := writer.create(context.Background(), writer.reg.Lookup("v1", "configmaps"), "default",
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "v"}}, false); err != nil {
		t.Fatal(err)
	}
	s := startShared(t, unreachable{store})
	if code, _ := getStatus(t, s, "/api/v1/namespaces/default/configmaps"); code != http.StatusServiceUnavailable {
		t.Errorf("latest state from a datastore without quorum: %d, want 503", code)
	}
	if code, _ := getStatus(t, s, "/api/v1/namespaces/default/configmaps?resourceVersion=0"); code != http.StatusOK {
		t.Errorf("resourceVersion=0: %d, want 200 from the cache", code)
	}
	// One object as JSON: encoded from the cache, not read back from a
	// datastore that cannot answer.
	start := time.Now()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/configmaps/a?resourceVersion=0", nil)
	r.Header.Set("Accept", "application/json")
	s.serveGet(w, r.WithContext(withUser(r.Context(), User{Name: "admin", Groups: []string{MastersGroup}})),
		request{res: s.reg.Lookup("v1", "configmaps"), namespace: "default", name: "a"})
	if took := time.Since(start); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"name":"a"`) || took > time.Second {
		t.Errorf("GET at resourceVersion=0: %d after %v: %s", w.Code, took, w.Body.String())
	}
}

// TestConsistentReadOnASharedEtcd: when another tenant of the etcd wrote
// last, the cache's watch is asked how far it has got, so a read of the
// latest state is answered at once, not after waiting for a revision no
// event of its prefix will bring.
func TestConsistentReadOnASharedEtcd(t *testing.T) {
	e := etcdtest.Start(t, t.TempDir(), false)
	ctx := context.Background()
	open := func(prefix string) *etcd.Backend {
		b, err := etcd.Open(ctx, etcd.Config{Endpoints: []string{e.Endpoint}, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	s := startShared(t, open("/skiff"))
	other := open("/other")
	for i := range 3 {
		if _, err := other.Create(ctx, "/k"+string(rune('a'+i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
		code, took := getStatus(t, s, "/api/v1/namespaces/default/configmaps")
		if code != http.StatusOK || took > time.Second {
			t.Fatalf("a read after another tenant's write: %d after %v", code, took)
		}
	}
}

// lateWatch is a shared datastore whose events reach this server's cache
// late, as another server's writes may.
type lateWatch struct {
	storage.Backend
	delay time.Duration
}

func (l lateWatch) Watch(ctx context.Context, prefix string, after int64) (<-chan storage.Event, error) {
	in, err := l.Backend.Watch(ctx, prefix, after)
	if err != nil {
		return nil, err
	}
	out := make(chan storage.Event, 1024)
	go func() {
		defer close(out)
		for ev := range in {
			time.Sleep(l.delay)
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// TestWritesFindWhatAnotherServerJustWrote: an object made through one server
// is updated, patched and deleted through another at once, before that
// server's cache has it, naming the resourceVersion the first answered;
// none of them gets a NotFound or a Conflict.
func TestWritesFindWhatAnotherServerJustWrote(t *testing.T) {
	store := memory.New()
	one, two := startShared(t, store), startShared(t, lateWatch{store, 300 * time.Millisecond})
	ctx := context.Background()
	serveOn := func(s *Server, method, path, contentType, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		s.ServeAs(w, r, User{Name: "admin", Groups: []string{MastersGroup}})
		return w
	}
	serve := func(method, path, contentType, body string) *httptest.ResponseRecorder {
		return serveOn(two, method, path, contentType, body)
	}
	create := func(name string) *corev1.ConfigMap {
		t.Helper()
		raw, err := one.Create(ctx, one.reg.Lookup("v1", "configmaps"), "default", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		var cm corev1.ConfigMap
		if err := json.Unmarshal(raw, &cm); err != nil {
			t.Fatal(err)
		}
		return &cm
	}
	path := "/api/v1/namespaces/default/configmaps/"

	cm := create("put")
	cm.Data = map[string]string{"k": "v"}
	body, _ := json.Marshal(cm)
	if w := serve(http.MethodPut, path+"put", "application/json", string(body)); w.Code != http.StatusOK {
		t.Errorf("update through the other server at resourceVersion %s: %d %s", cm.ResourceVersion, w.Code, w.Body)
	}
	// Now the other server's cache holds an older version than the one
	// the client read.
	w := serveOn(one, http.MethodPatch, path+"put", "application/merge-patch+json", `{"data":{"k":"v2"}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "v3"
	body, _ = json.Marshal(cm)
	if w := serve(http.MethodPut, path+"put", "application/json", string(body)); w.Code != http.StatusOK {
		t.Errorf("update through the other server at resourceVersion %s, newer than its cache's: %d %s", cm.ResourceVersion, w.Code, w.Body)
	}
	create("patch")
	if w := serve(http.MethodPatch, path+"patch", "application/merge-patch+json", `{"data":{"k":"v"}}`); w.Code != http.StatusOK {
		t.Errorf("patch through the other server: %d %s", w.Code, w.Body)
	}
	cm = create("delete")
	if w := serve(http.MethodDelete, path+"delete", "application/json",
		`{"preconditions":{"resourceVersion":"`+cm.ResourceVersion+`"}}`); w.Code != http.StatusOK {
		t.Errorf("delete through the other server with the resourceVersion as precondition: %d %s", w.Code, w.Body)
	}
}
