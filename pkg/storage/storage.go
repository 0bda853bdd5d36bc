// Package storage defines the key/value contract every Skiff storage engine meets.
//
// It is deliberately small, in the spirit of kine: keys are strings, values are opaque
// bytes, and one global, strictly increasing revision orders every write. That revision
// is the Kubernetes resourceVersion. This package must not know about Kubernetes
// objects; encoding belongs to the API server.
package storage

import (
	"context"
	"errors"
)

// Sentinel errors. Check them with errors.Is; implementations wrap them with the key.
var (
	// ErrNotFound: the key does not exist (Get, Update, Delete).
	ErrNotFound = errors.New("key not found")
	// ErrKeyExists: Create found the key already present.
	ErrKeyExists = errors.New("key already exists")
	// ErrConflict: the compare-and-swap revision did not match the stored one.
	ErrConflict = errors.New("revision conflict")
	// ErrCompacted: a watch asked for history older than the compacted revision.
	ErrCompacted = errors.New("required revision has been compacted")
	// ErrClosed: the backend has been closed.
	ErrClosed = errors.New("storage closed")
)

// KeyValue is one stored value and the revisions that describe it.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the write that created the key
	ModRevision    int64 // revision of the last write to the key
}

// EventType says what a write did.
type EventType int

const (
	Created EventType = iota + 1
	Updated
	Deleted
	// Progress is no write: every event up to KV.ModRevision has been sent
	// (see ProgressRequester). Its KV holds nothing else.
	Progress
)

func (t EventType) String() string {
	switch t {
	case Created:
		return "CREATED"
	case Updated:
		return "UPDATED"
	case Deleted:
		return "DELETED"
	case Progress:
		return "PROGRESS"
	}
	return "UNKNOWN"
}

// Event is one committed write as a watcher sees it.
//
// For Created and Updated, KV is the new value. For Deleted, KV holds the last value
// the key had, with ModRevision set to the revision of the delete. PrevKV is the value
// before the write (nil for Created).
type Event struct {
	Type   EventType
	KV     KeyValue
	PrevKV *KeyValue
}

// Revision returns the revision at which the event happened.
func (e Event) Revision() int64 { return e.KV.ModRevision }

// Backend is a revisioned key/value store.
//
// Every write is assigned the next revision; writes are durable when they return.
// Update and Delete are compare-and-swap: expectedRevision must equal the key's
// current ModRevision (0 means "whatever is there", an unconditional write).
type Backend interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns every key with the given prefix in key order, and the revision the
	// list is consistent with (the store's current revision).
	List(ctx context.Context, prefix string) ([]KeyValue, int64, error)
	// Create stores a new key. It fails with ErrKeyExists if the key is present.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update replaces the value of an existing key.
	Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error)
	// Delete removes a key and returns the revision of the delete.
	Delete(ctx context.Context, key string, expectedRevision int64) (int64, error)
	// Watch streams, in revision order, every event under prefix with a revision
	// greater than afterRevision, then every later one as it commits. It fails with
	// ErrCompacted when afterRevision is older than the compacted history. The channel
	// is closed when ctx ends, when the backend closes, or when the watcher falls too
	// far behind; the watcher then resumes from the last revision it saw.
	Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan Event, error)
	// Compact forgets the history of revisions up to and including revision.
	Compact(ctx context.Context, revision int64) error
	// CurrentRevision is the revision of the last committed write to the
	// store (0 for an empty bolt file; etcd starts at 1, and a shared etcd
	// counts its other tenants' writes too).
	CurrentRevision(ctx context.Context) (int64, error)
	// CompactedRevision is the revision history was last compacted up to (0
	// when never): Watch replays history after it, and fails before it.
	CompactedRevision(ctx context.Context) (int64, error)
	// Close releases the backend. Watch channels are closed.
	Close() error
}

// ProgressRequester is a Backend whose watches say, when asked, how far they
// have got even when nothing under their prefix changed: each open watch then
// sends a Progress event at the store's current revision (etcd's progress
// notifications). A store shared with other writers needs it for a watcher to
// learn that it has seen everything up to a revision it read elsewhere.
type ProgressRequester interface {
	RequestProgress(ctx context.Context) error
}
