package etcdmember

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/pki"
)

var loopback = net.IPv4(127, 0, 0, 1)

func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// freePort is a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testConfig is a member on loopback with its own directory and ports and
// raft timings short enough for tests.
func testConfig(t *testing.T, ca *pki.CA, name string) Config {
	t.Helper()
	dir := t.TempDir()
	certs, err := EnsureCerts(ca, filepath.Join(dir, "tls"), name, []net.IP{loopback})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		DataDir:           filepath.Join(dir, "etcd"),
		Name:              name,
		AdvertiseIP:       loopback,
		ClientPort:        freePort(t),
		PeerPort:          freePort(t),
		Certs:             certs,
		Logger:            testLogger(t),
		HeartbeatInterval: 20 * time.Millisecond,
		ElectionTimeout:   200 * time.Millisecond,
		ReadyTimeout:      30 * time.Second,
	}
}

// start starts cfg and stops it when the test ends. A new member whose
// ports another process took since testConfig picked them gets new ones;
// the member's Config says which.
func start(t *testing.T, cfg Config) *Member {
	t.Helper()
	for try := 0; ; try++ {
		m, err := Start(t.Context(), cfg)
		if err == nil {
			t.Cleanup(m.Stop)
			return m
		}
		if try == 4 || cfg.Join || cfg.hasState() || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		cfg.ClientPort, cfg.PeerPort = freePort(t), freePort(t)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// testLogger writes etcd's warnings to the test log, and nothing once the
// test is over: etcd's goroutines may still log while they wind down.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func put(t *testing.T, m *Member, key, value string) {
	t.Helper()
	if _, err := m.Client().Put(ctxTimeout(t, 10*time.Second), key, value); err != nil {
		t.Fatalf("put %s through %s: %v", key, m.cfg.Name, err)
	}
}

// get returns key's value through m's client ("" when absent), linearizable.
func get(t *testing.T, m *Member, key string) string {
	t.Helper()
	resp, err := m.Client().Get(ctxTimeout(t, 10*time.Second), key)
	if err != nil {
		t.Fatalf("get %s through %s: %v", key, m.cfg.Name, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}
