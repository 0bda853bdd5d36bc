package wire

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
)

// DialFunc opens a TCP connection (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialURL connects to u's host with dial (nil: a plain net.Dialer), and for
// https negotiates TLS with cfg, for HTTP/1.1 only.
func DialURL(ctx context.Context, dial DialFunc, u *url.URL, cfg *tls.Config) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	case u.Scheme == "http":
		port = "80"
	default:
		return nil, fmt.Errorf("unsupported scheme in %q", u.Redacted())
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return conn, nil
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}
