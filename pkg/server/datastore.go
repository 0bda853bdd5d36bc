package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// datastoreTLS is the client TLS configuration for an etcd datastore: nil for
// plaintext (no files given).
func datastoreTLS(d Datastore) (*tls.Config, error) {
	if d.CAFile == "" && d.CertFile == "" && d.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--datastore-cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--datastore-cafile %s: no certificate in it", d.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (d.CertFile == "") != (d.KeyFile == "") {
		return nil, fmt.Errorf("--datastore-certfile and --datastore-keyfile go together")
	}
	if d.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--datastore-certfile/--datastore-keyfile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// compactEvery compacts store's history every period, to the revision it had
// one period before: every server sharing the datastore may do so (each asks
// for a revision at least a period old; compacting to where another already
// did is no error), and a client watching from less than a period ago can
// always resume.
func compactEvery(ctx context.Context, store storage.Backend, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := store.CurrentRevision(ctx)
		if err != nil {
			continue
		}
		if last > 0 {
			if err := store.Compact(ctx, last); err != nil && ctx.Err() == nil {
				log.Warn("compacting the datastore", "revision", last, "err", err)
			}
		}
		last = rev
	}
}
