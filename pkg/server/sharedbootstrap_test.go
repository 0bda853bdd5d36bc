package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestShareBootstrap: the first server on a datastore stores its keys there,
// sealed; a server started with its token takes them (replacing its own, and
// the certificates it issued under its own CA); no token, or another
// cluster's, is refused with a way out.
func TestShareBootstrap(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	first, second := t.TempDir(), t.TempDir()
	if err := shareBootstrap(ctx, store, first, "K10"+strings.Repeat("0", 64)+"::server:x"); err == nil ||
		!strings.Contains(err.Error(), "the datastore holds none") {
		t.Fatalf("a token for an empty datastore: %v", err)
	}
	if err := shareBootstrap(ctx, store, first, ""); err != nil {
		t.Fatal(err)
	}
	kv, err := store.Get(ctx, bootstrapKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(first, "tls", "ca.key"))
	if bytes.Contains(kv.Value, key) || bytes.Contains(kv.Value, []byte("PRIVATE KEY")) {
		t.Fatal("the CA key is stored in the clear")
	}

	// A server that made a CA of its own (and a certificate under it).
	if err := os.MkdirAll(filepath.Join(second, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(second, "tls", "serving-kube-apiserver.crt"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := shareBootstrap(ctx, store, second, ""); err == nil || !strings.Contains(err.Error(), "pass its server token with --token") {
		t.Fatalf("no token: %v", err)
	}
	other := t.TempDir()
	if err := shareBootstrap(ctx, memory.New(), other, ""); err != nil {
		t.Fatal(err)
	}
	otherToken, _ := os.ReadFile(filepath.Join(other, "server-token"))
	if err := shareBootstrap(ctx, store, second, string(otherToken)); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("another cluster's token: %v", err)
	}
	token, _ := os.ReadFile(filepath.Join(first, "server-token"))
	if err := shareBootstrap(ctx, store, second, string(token)); err != nil {
		t.Fatal(err)
	}
	for _, f := range sharedFiles {
		a, _ := os.ReadFile(filepath.Join(first, f))
		b, err := os.ReadFile(filepath.Join(second, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the servers (%v)", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(second, "tls", "serving-kube-apiserver.crt")); !os.IsNotExist(err) {
		t.Errorf("a certificate issued under the replaced CA is still there (%v)", err)
	}
	// Restarting, the server opens the data with the token it now keeps.
	if err := shareBootstrap(ctx, store, second, ""); err != nil {
		t.Fatalf("restart: %v", err)
	}
}
