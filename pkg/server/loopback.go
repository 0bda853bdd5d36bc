package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
)

// loopback serves the API to the server's own components over a unix socket in
// the data directory: plain HTTP (no TLS to pay for on every request) and a random
// bearer token that never leaves the process.
type loopback struct {
	path  string
	token string
	ln    net.Listener
	srv   *http.Server
}

func newLoopback(dir string, handler http.Handler) (*loopback, error) {
	path := filepath.Join(dir, "loopback.sock")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale loopback socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("loopback socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		ln.Close()
		return nil, err
	}
	return &loopback{
		path: path, token: hex.EncodeToString(b), ln: ln,
		srv: &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second},
	}, nil
}

func (l *loopback) serve() error {
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("loopback: %w", err)
	}
	return nil
}

func (l *loopback) shutdown(ctx context.Context) { _ = l.srv.Shutdown(ctx) }

// config is a client configuration for in-process components. Rate limits are
// the caller's to set: in-process loops are trusted not to flood.
func (l *loopback) config() *rest.Config {
	return &rest.Config{
		Host:        "http://skiff-loopback",
		BearerToken: l.token,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", l.path)
		},
		QPS:   -1, // no client-side throttling
		Burst: 0,
		// Request bodies in protobuf: several times cheaper for the server to decode
		// than JSON, and the bulk of a storm's CPU is decoding.
		ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"},
	}
}
