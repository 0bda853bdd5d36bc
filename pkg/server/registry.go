package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/ociregistry"
	"github.com/skiffhq/skiff/pkg/pki"
)

// newRegistry opens the cluster registry in serverDir/registry and returns
// its handler for /v2/ behind the API server's authentication: cluster
// admins push and pull, nodes pull.
func newRegistry(serverDir string, log *slog.Logger) (*ociregistry.Store, http.Handler, error) {
	store, err := ociregistry.Open(filepath.Join(serverDir, "registry"))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster registry: %w", err)
	}
	return store, &ociregistry.Handler{
		Store: store,
		Caller: func(r *http.Request) (ociregistry.Caller, bool) {
			u, ok := apiserver.UserFrom(r.Context())
			return ociregistry.Caller{Name: u.Name, Groups: u.Groups}, ok
		},
		Logger: log.With("component", "registry"),
	}, nil
}

// importAirGapImages stores the tarballs dropped in DATA_DIR/agent/images
// (the air-gap convention k3s users know) in the cluster registry, where
// every node's containerd finds them. A bad tarball is reported and skipped.
func importAirGapImages(ctx context.Context, store *ociregistry.Store, dataDir string, log *slog.Logger) {
	tarballs, _ := filepath.Glob(filepath.Join(dataDir, "agent", "images", "*.tar"))
	for _, t := range tarballs {
		refs, err := ociregistry.Import(ctx, store, t, nil)
		if err != nil {
			log.Error("air-gap image not imported", "err", err)
			continue
		}
		log.Info("air-gap images imported into the cluster registry", "file", t, "images", refs)
	}
}

// nodeMirror is the registry mirror of the node on this host: the server's
// own URL, verified by the cluster CA, pulled from with a node certificate.
func nodeMirror(ca *pki.CA, tlsDir, nodeName, serverURL string) (agent.Mirror, error) {
	cert, key, err := ca.EnsureClient(tlsDir, "client-registry-"+nodeName, "system:node:"+nodeName, []string{ociregistry.GroupNodes})
	if err != nil {
		return agent.Mirror{}, fmt.Errorf("registry client certificate: %w", err)
	}
	return agent.Mirror{URL: serverURL, CAFile: filepath.Join(tlsDir, "ca.crt"), CertFile: cert, KeyFile: key}, nil
}

// registryFront gives the API server's 401s under /v2/ the challenge that
// registry clients (docker, crane) look for.
func registryFront(api http.Handler) http.Handler { return ociregistry.WithChallenge(api) }
