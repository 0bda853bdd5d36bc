package ociregistry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrUploadUnknown is an upload session that does not exist (finished,
// cancelled, or started before a restart).
var ErrUploadUnknown = errors.New("blob upload unknown to registry")

// ErrRangeInvalid is a chunk that does not start where the upload ends.
var ErrRangeInvalid = errors.New("requested range not satisfiable")

// upload is one blob upload session: a temporary file and the running hash
// of what it holds.
type upload struct {
	mu   sync.Mutex
	f    *os.File
	h    hash.Hash
	size int64
}

// StartUpload begins an upload session and returns its ID.
func (s *Store) StartUpload() (string, error) {
	f, err := s.tempFile()
	if err != nil {
		return "", err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.upMu.Lock()
	s.uploads[id] = &upload{f: f, h: sha256.New()}
	s.upMu.Unlock()
	return id, nil
}

func (s *Store) upload(id string) (*upload, error) {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return nil, fmt.Errorf("upload %q: %w", id, ErrUploadUnknown)
	}
	return u, nil
}

// UploadSize is how many bytes upload id holds.
func (s *Store) UploadSize(id string) (int64, error) {
	u, err := s.upload(id)
	if err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.size, nil
}

// AppendUpload adds r's bytes to upload id. start, when not negative, is
// where the client says the chunk begins; it must be the current size.
func (s *Store) AppendUpload(id string, start int64, r io.Reader) (int64, error) {
	u, err := s.upload(id)
	if err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.f == nil {
		return 0, fmt.Errorf("upload %q: %w", id, ErrUploadUnknown)
	}
	if start >= 0 && start != u.size {
		return u.size, fmt.Errorf("%w: chunk starts at %d, upload holds %d bytes", ErrRangeInvalid, start, u.size)
	}
	n, err := io.Copy(io.MultiWriter(u.f, u.h), r)
	u.size += n
	if err != nil {
		// The file and the hash may disagree now: the session cannot go on.
		s.upMu.Lock()
		delete(s.uploads, id)
		s.upMu.Unlock()
		u.discard()
		return u.size, err
	}
	return u.size, nil
}

// FinishUpload verifies upload id against want and stores it as a blob.
// The session ends either way; a mismatch stores nothing.
func (s *Store) FinishUpload(id string, want v1.Hash) (int64, error) {
	u, err := s.upload(id)
	if err != nil {
		return 0, err
	}
	s.upMu.Lock()
	delete(s.uploads, id)
	s.upMu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.f == nil {
		return 0, fmt.Errorf("upload %q: %w", id, ErrUploadUnknown)
	}
	f := u.f
	u.f = nil
	_, _, err = s.commitTemp(f, u.h, &want)
	return u.size, err
}

// CancelUpload ends upload id and discards what it held.
func (s *Store) CancelUpload(id string) {
	s.upMu.Lock()
	u, ok := s.uploads[id]
	delete(s.uploads, id)
	s.upMu.Unlock()
	if !ok {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.discard()
}

// discard removes the session's file; the caller holds u.mu.
func (u *upload) discard() {
	if u.f != nil {
		u.f.Close()
		os.Remove(u.f.Name())
		u.f = nil
	}
}
