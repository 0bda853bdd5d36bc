package server

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage"
)

// bootstrapKey holds, in a datastore several servers share, what makes them
// one cluster: the cluster CA, the service-account signing key and the join
// tokens (the agents' and the servers'), sealed with the server token's secret (as k3s keeps its bootstrap data in
// its datastore). It lies outside /registry/, which the API serves.
const bootstrapKey = "/bootstrap/skiff"

// sharedFiles are those files, relative to the server directory.
var sharedFiles = []string{"tls/ca.crt", "tls/ca.key", "tls/" + serviceaccount.KeyFile, "token", "server-token"}

// etcdCADir holds the CA of the embedded etcd's members, relative to the
// server directory: a CA of its own, which signs nothing but the members'
// certificates, so that no certificate the cluster CA signs (a node's, one
// from an approved CSR) opens etcd. Servers joining the embedded etcd get its
// files beside sharedFiles.
const etcdCADir = "tls/etcd-ca"

var etcdCAFiles = []string{etcdCADir + "/ca.crt", etcdCADir + "/ca.key"}

// sealed is the stored form: AES-256-GCM under a key derived (HKDF-SHA256)
// from the token's secret and the salt.
type sealed struct {
	Salt, Nonce, Data []byte
}

// shareBootstrap makes serverDir hold the cluster's shared files before the
// server makes any of its own. When the datastore holds them they are opened
// with token (the --token a server is started with, else the one this server
// keeps) and written over what differs; when it holds none, this server's own
// (made now when missing) are sealed and stored, unless another server stored
// its own first.
func shareBootstrap(ctx context.Context, store storage.Backend, serverDir, token string) error {
	for range 2 {
		kv, err := store.Get(ctx, bootstrapKey)
		if err == nil {
			return openBootstrap(kv.Value, serverDir, token)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("reading the cluster's bootstrap data from the datastore: %w", err)
		}
		if token != "" {
			return errors.New("--token names a cluster, but the datastore holds none: start the cluster's first server without --token")
		}
		value, err := sealBootstrap(serverDir)
		if err != nil {
			return err
		}
		if _, err := store.Create(ctx, bootstrapKey, value); err == nil || !errors.Is(err, storage.ErrKeyExists) {
			return err
		}
		// Another server stored its own first: take its.
	}
	return errors.New("the cluster's bootstrap data keeps changing in the datastore")
}

func sealBootstrap(serverDir string) ([]byte, error) {
	tlsDir := filepath.Join(serverDir, "tls")
	ca, err := pki.EnsureCA(tlsDir)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	if _, err := serviceaccount.LoadOrCreateKey(tlsDir); err != nil {
		return nil, fmt.Errorf("service-account signing key: %w", err)
	}
	if _, err := join.EnsureToken(filepath.Join(serverDir, "token"), ca.CertPEM()); err != nil {
		return nil, err
	}
	token, err := join.EnsureToken(filepath.Join(serverDir, "server-token"), ca.CertPEM())
	if err != nil {
		return nil, err
	}
	files, err := readSharedFiles(serverDir, sharedFiles)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(files)
	if err != nil {
		return nil, err
	}
	s := sealed{Salt: make([]byte, 16)}
	if _, err := rand.Read(s.Salt); err != nil {
		return nil, err
	}
	aead, err := bootstrapCipher(token.Secret, s.Salt)
	if err != nil {
		return nil, err
	}
	s.Nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	s.Data = aead.Seal(nil, s.Nonce, plain, []byte(bootstrapKey))
	return json.Marshal(s)
}

func openBootstrap(value []byte, serverDir, given string) error {
	tokenText := given
	if tokenText == "" {
		b, err := os.ReadFile(filepath.Join(serverDir, "server-token"))
		if err != nil {
			return errors.New("the datastore holds a cluster: pass its server token with --token (DATA_DIR/server/server-token on one of its servers)")
		}
		tokenText = string(b)
	}
	token, err := join.ParseToken(tokenText)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	var s sealed
	if err := json.Unmarshal(value, &s); err != nil {
		return fmt.Errorf("the cluster's bootstrap data in the datastore: %w", err)
	}
	aead, err := bootstrapCipher(token.Secret, s.Salt)
	if err != nil {
		return err
	}
	plain, err := aead.Open(nil, s.Nonce, s.Data, []byte(bootstrapKey))
	if err != nil {
		return errors.New("the token does not open the cluster's bootstrap data in the datastore: pass the server token of a server of that cluster with --token (DATA_DIR/server/server-token)")
	}
	var files map[string][]byte
	if err := json.Unmarshal(plain, &files); err != nil {
		return fmt.Errorf("the cluster's bootstrap data: %w", err)
	}
	if got := pki.CAHash(files["tls/ca.crt"]); got != token.CAHash {
		return fmt.Errorf("the cluster's CA (%s) is not the one the token names (%s)", got, token.CAHash)
	}
	return writeSharedFiles(serverDir, files, sharedFiles)
}

// readSharedFiles reads the files names lists from serverDir.
func readSharedFiles(serverDir string, names []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, f := range names {
		data, err := os.ReadFile(filepath.Join(serverDir, f))
		if err != nil {
			return nil, err
		}
		files[f] = data
	}
	return files, nil
}

// writeSharedFiles writes the cluster's shared files (those names lists) into
// serverDir where they differ; a CA replaced voids the certificates issued
// under the old one.
func writeSharedFiles(serverDir string, files map[string][]byte, names []string) error {
	caChanged := false
	for _, f := range names {
		data, ok := files[f]
		if !ok {
			return fmt.Errorf("the cluster's shared files lack %s", f)
		}
		path := filepath.Join(serverDir, f)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
			return err
		}
		caChanged = caChanged || strings.HasPrefix(f, "tls/ca.") || strings.HasPrefix(f, etcdCADir+"/")
	}
	if caChanged {
		// Certificates this server issued under another CA are void.
		return removeIssued(filepath.Join(serverDir, "tls"))
	}
	return nil
}

// removeIssued deletes the leaf certificates in tlsDir and its directories
// (the etcd member's), all but the shared files and the etcd CA: the server
// issues them again from the cluster's CAs.
func removeIssued(tlsDir string) error {
	entries, err := os.ReadDir(tlsDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		rel := "tls/" + e.Name()
		shared := rel == etcdCADir
		for _, f := range sharedFiles {
			shared = shared || f == rel
		}
		if !shared {
			if err := os.RemoveAll(filepath.Join(tlsDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func bootstrapCipher(secret string, salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), salt, "skiff bootstrap data", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
