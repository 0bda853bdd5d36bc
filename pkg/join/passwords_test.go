package join

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestPasswordsAreSharedByServers: two servers on one datastore hold one
// binding per name, so a worker joins again through either, and another host
// is refused its name at both.
func TestPasswordsAreSharedByServers(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	store := memory.New()
	nodes := map[string]bool{}
	server := func() *Handler {
		return &Handler{CA: ca, Token: tok, Passwords: store, NodeExists: func(name string) bool { return nodes[name] }}
	}
	one, two := server(), server()
	if rec := post(one, "10.0.0.1:1", tok.Secret, Request{NodeName: "w", NodePassword: pw}); rec.Code != http.StatusOK {
		t.Fatalf("join through server one: %d %s", rec.Code, rec.Body)
	}
	nodes["w"] = true
	if rec := post(two, "10.0.0.1:1", tok.Secret, Request{NodeName: "w", NodePassword: pw}); rec.Code != http.StatusOK {
		t.Fatalf("the same host joining again through server two: %d %s", rec.Code, rec.Body)
	}
	for name, h := range map[string]*Handler{"one": one, "two": two} {
		rec := post(h, "10.0.0.2:1", tok.Secret, Request{NodeName: "w", NodePassword: otherPW})
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "already joined from another host") {
			t.Fatalf("another host taking the name through server %s: %d %s", name, rec.Code, rec.Body)
		}
	}
	// Once the Node is deleted the name is free, on every server.
	delete(nodes, "w")
	if rec := post(two, "10.0.0.2:1", tok.Secret, Request{NodeName: "w", NodePassword: otherPW}); rec.Code != http.StatusOK {
		t.Fatalf("the freed name through server two: %d %s", rec.Code, rec.Body)
	}
	nodes["w"] = true
	if rec := post(one, "10.0.0.1:1", tok.Secret, Request{NodeName: "w", NodePassword: pw}); rec.Code != http.StatusForbidden {
		t.Fatalf("the old host after the name went to another: %d %s", rec.Code, rec.Body)
	}
}

// TestImportPasswords: the hashes an older server kept in files move into the
// datastore, where a binding already made wins, and the directory is set aside.
func TestImportPasswords(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	dir := filepath.Join(t.TempDir(), "node-passwords")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for node, password := range map[string]string{"a": pw, "b": pw} {
		if err := os.WriteFile(filepath.Join(dir, node), []byte(passwordHash(password)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := putPassword(ctx, store, "b", passwordHash(otherPW)); err != nil {
		t.Fatal(err)
	}
	if err := ImportPasswords(ctx, store, dir); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Passwords: store, NodeExists: func(string) bool { return true }}
	for _, c := range []struct{ node, password string }{{"a", pw}, {"b", otherPW}} {
		if err := h.checkPassword(ctx, c.node, c.password); err != nil {
			t.Errorf("%s after the import: %v", c.node, err)
		}
	}
	if err := h.checkPassword(ctx, "a", otherPW); err == nil {
		t.Error("the imported binding of a was not kept")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the imported directory is still there: %v", err)
	}
	if err := ImportPasswords(ctx, store, dir); err != nil {
		t.Errorf("nothing to import: %v", err)
	}
}

// TestAPIServerNamesAreRefused: no node may take a name the API server's
// certificate carries, as nodes check the server by it.
func TestAPIServerNamesAreRefused(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	h := &Handler{CA: ca, Token: tok, Passwords: memory.New()}
	for _, name := range []string{"kubernetes", "kubernetes.default", APIServerName, APIServerName + ".cluster.local"} {
		if rec := post(h, "10.0.0.1:1", tok.Secret, Request{NodeName: name, NodePassword: pw}); rec.Code != http.StatusBadRequest {
			t.Errorf("a node named %s: %d %s, want 400", name, rec.Code, rec.Body)
		}
	}
	if rec := post(h, "10.0.0.1:1", tok.Secret, Request{NodeName: "kubernetes-1", NodePassword: pw}); rec.Code != http.StatusOK {
		t.Errorf("a node named kubernetes-1: %d %s", rec.Code, rec.Body)
	}
}
