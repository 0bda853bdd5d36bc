package join

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/storage"
)

// The datastore keeps a hash of each node's password under passwordsPrefix,
// one key per node name, so that every server sharing it checks a join
// against the same binding: a worker may join again through any server. The
// keys are outside /registry/, which the API serves.
const passwordsPrefix = "/nodepasswords/"

// passwordRetries bounds how often a check starts again when another server
// bound or freed the name between its read and its write.
const passwordRetries = 3

var nodesResource = schema.GroupResource{Resource: "nodes"}

// checkPassword binds a node name to the first password it joins with, until
// its Node is deleted. A reserved name is refused as if another host held it:
// a guesser cannot tell the server's own node from a worker's.
func (h *Handler) checkPassword(ctx context.Context, node, password string) *apierrors.StatusError {
	if h.Reserved != nil && h.Reserved(node) {
		return taken(node)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	want := passwordHash(password)
	key := passwordsPrefix + node
	for range passwordRetries {
		kv, err := h.Passwords.Get(ctx, key)
		switch {
		case err == nil && (h.NodeExists == nil || h.NodeExists(node)):
			if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(string(kv.Value))), []byte(want)) == 1 {
				return nil
			}
			return taken(node)
		case err == nil:
			// Its Node is gone: the name is free for any host again.
			_, err = h.Passwords.Update(ctx, key, []byte(want), kv.ModRevision)
		case errors.Is(err, storage.ErrNotFound):
			_, err = h.Passwords.Create(ctx, key, []byte(want))
		}
		if err == nil {
			return nil
		}
		if !raced(err) {
			return apierrors.NewInternalError(fmt.Errorf("node password of %q: %w", node, err))
		}
	}
	return apierrors.NewConflict(nodesResource, node, errors.New("other servers bound this node name at the same time, please try again"))
}

// raced reports whether a write lost to another one made since its read.
func raced(err error) bool {
	return errors.Is(err, storage.ErrKeyExists) || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound)
}

// Bind gives node to the host whose password this is, whoever held the name
// before. The server binds its own node's name at start, so that after a
// restart under another --node-name the old name stays its own for as long
// as that Node exists, as a worker's would.
func (h *Handler) Bind(ctx context.Context, node, password string) error {
	if len(password) < 16 {
		return errors.New("node password: must be at least 16 characters")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := putPassword(ctx, h.Passwords, node, passwordHash(password)); err != nil {
		return fmt.Errorf("binding node name %q: %w", node, err)
	}
	return nil
}

// putPassword stores hash as node's, whatever was stored.
func putPassword(ctx context.Context, store storage.Backend, node, hash string) error {
	key := passwordsPrefix + node
	var err error
	for range passwordRetries {
		if _, err = store.Create(ctx, key, []byte(hash)); !errors.Is(err, storage.ErrKeyExists) {
			return err
		}
		if _, err = store.Update(ctx, key, []byte(hash), 0); !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return err
}

// ImportPasswords moves the hashes older servers kept in files (one per node
// name in dir) into store, keeping any binding store already has, and sets
// dir aside as dir+".imported". A missing dir is nothing to import.
func ImportPasswords(ctx context.Context, store storage.Backend, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node passwords: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		hash, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("node passwords: %w", err)
		}
		_, err = store.Create(ctx, passwordsPrefix+e.Name(), []byte(strings.TrimSpace(string(hash))))
		if err != nil && !errors.Is(err, storage.ErrKeyExists) {
			return fmt.Errorf("node password of %q: %w", e.Name(), err)
		}
	}
	if err := os.Rename(dir, dir+".imported"); err != nil {
		return fmt.Errorf("node passwords: %w", err)
	}
	return nil
}

func passwordHash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// taken is the one refusal of a node name that is not the asking host's.
func taken(node string) *apierrors.StatusError {
	return apierrors.NewForbidden(nodesResource, node,
		fmt.Errorf("node %q already joined from another host (its node password does not match): give this host another --node-name, or free the name with `kubectl delete node %s`", node, node))
}
