package etcdmember

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// restoreRevisionBump is added to the revision of a restored member's data,
// which is also marked compacted there. Clients (informers, watches) that
// saw revisions newer than the snapshot then get "compacted" and list again,
// instead of waiting for revisions the restored cluster will reuse for other
// writes. etcd's and Kubernetes' guides use the same amount.
const restoreRevisionBump = 1_000_000_000

var (
	snapshotName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// snapshotFile is name-<unix milliseconds>.
	snapshotFile = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)-([0-9]{1,19})$`)
)

// SnapshotInfo is one snapshot file in a snapshot directory.
type SnapshotInfo struct {
	// Name is the file name: the name it was saved under, "-" and the time
	// it was taken in Unix milliseconds.
	Name string
	Path string
	Size int64
	// Time is when it was taken.
	Time time.Time
}

// Save streams a snapshot of a member cli is connected to into dir as
// name-<unix milliseconds>, mode 0600: a snapshot holds every secret of the
// cluster. The file appears whole or not at all, and only once its data
// matches the checksum etcd ends it with. A save never replaces another
// snapshot: when two of the same name start in the same millisecond, the
// later to finish takes the next free millisecond. A client of several
// members snapshots whichever it picks; Member.Client snapshots its own
// member.
func Save(ctx context.Context, cli *clientv3.Client, dir, name string) (path string, err error) {
	return save(ctx, cli, dir, name, time.Now())
}

func save(ctx context.Context, cli *clientv3.Client, dir, name string, taken time.Time) (path string, err error) {
	if !snapshotName.MatchString(name) {
		return "", fmt.Errorf("etcd snapshot name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	// The name it gets unless another snapshot took it meanwhile.
	want := filepath.Join(dir, name+"-"+strconv.FormatInt(taken.UnixMilli(), 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("etcd snapshot: %w", err)
	}
	// A leading dot keeps an unfinished file out of List.
	f, err := os.CreateTemp(dir, "."+filepath.Base(want)+".part-*")
	if err != nil {
		return "", fmt.Errorf("etcd snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("etcd snapshot %q: %w", want, err)
	}
	defer resp.Snapshot.Close()
	sum := &trailedHash{h: sha256.New()}
	size, err := io.Copy(io.MultiWriter(f, sum), resp.Snapshot)
	if err != nil {
		return "", fmt.Errorf("etcd snapshot %q: %w", want, err)
	}
	// etcd ends a whole snapshot with the SHA-256 of the database, whose
	// size is a multiple of 512: anything else was cut short.
	if size%512 != sha256.Size {
		return "", fmt.Errorf("etcd snapshot %q: %d bytes is not a database and its checksum; the stream was cut short", want, size)
	}
	if !sum.matches() {
		return "", fmt.Errorf("etcd snapshot %q: the database does not match the SHA-256 it ends with; it was damaged on the way, take it again", want)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("etcd snapshot %q: %w", want, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("etcd snapshot %q: %w", want, err)
	}
	if path, err = linkFree(f.Name(), dir, name, taken); err != nil {
		return "", fmt.Errorf("etcd snapshot %q: %w", want, err)
	}
	os.Remove(f.Name())
	syncDir(dir)
	return path, nil
}

// linkFree gives the file at tmp the first name-<unix milliseconds> in dir,
// from taken on, that no file has: a link, unlike a rename, never replaces
// one.
func linkFree(tmp, dir, name string, taken time.Time) (string, error) {
	ms := taken.UnixMilli()
	for i := range int64(1000) {
		path := filepath.Join(dir, name+"-"+strconv.FormatInt(ms+i, 10))
		err := os.Link(tmp, path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("a thousand snapshots named %q from %d on already exist", name, ms)
}

// trailedHash hashes what is written to it but the last sha256.Size bytes,
// which it keeps to compare: a snapshot stream is a database and its hash.
type trailedHash struct {
	h    hash.Hash
	tail []byte
}

func (t *trailedHash) Write(p []byte) (int, error) {
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - sha256.Size; over > 0 {
		t.h.Write(t.tail[:over])
		t.tail = append(t.tail[:0], t.tail[over:]...)
	}
	return len(p), nil
}

func (t *trailedHash) matches() bool {
	return len(t.tail) == sha256.Size && bytes.Equal(t.h.Sum(nil), t.tail)
}

// List lists the snapshots in dir, newest first. A directory that does not
// exist holds none.
func List(dir string) ([]SnapshotInfo, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list etcd snapshots: %w", err)
	}
	var out []SnapshotInfo
	for _, e := range entries {
		_, taken, ok := parseSnapshotFile(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list etcd snapshots: %w", err)
		}
		out = append(out, SnapshotInfo{Name: e.Name(), Path: filepath.Join(dir, e.Name()), Size: info.Size(), Time: taken})
	}
	slices.SortFunc(out, func(a, b SnapshotInfo) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

func parseSnapshotFile(file string) (name string, taken time.Time, ok bool) {
	m := snapshotFile.FindStringSubmatch(file)
	if m == nil {
		return "", time.Time{}, false
	}
	ms, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return m[1], time.UnixMilli(ms), true
}

// Prune deletes all but the newest keep snapshots in dir that were saved as
// name, leaving snapshots saved under other names alone: a schedule prunes
// its own and not the ones a user took by hand.
func Prune(dir, name string, keep int) error {
	if keep < 1 {
		return fmt.Errorf("prune etcd snapshots %q: keep %d, want at least 1", name, keep)
	}
	all, err := List(dir)
	if err != nil {
		return err
	}
	var errs []error
	kept := 0
	for _, s := range all {
		if n, _, _ := parseSnapshotFile(s.Name); n != name {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune etcd snapshots %q: %w", name, err)
	}
	return nil
}

// Restore makes dataDir the data of a one-member cluster, the member called
// name at peerURL, holding what the snapshot at snapshotPath holds. A member
// started on it afterwards (Start without Join) is that cluster; Start's
// InitialCluster is ignored then. Revisions continue a billion past the
// snapshot's and everything before is marked compacted, so that clients that
// watched the old cluster list again. The new cluster gets IDs of its own,
// even on the host and peer URL of the old one, so that members still
// running on the old cluster's data are refused as strangers rather than
// taken for peers.
//
// dataDir must not exist or be empty: move the old data aside first.
// Restore never deletes it. The data is put together beside dataDir, in
// dataDir.restoring-RANDOM, and renamed into place once it is whole and on
// disk, so that a restore that fails or is killed leaves dataDir as it was
// (and at worst a .restoring directory, which nothing reads). ctx is checked
// before the copy and before the rename; the copy itself runs to its end.
func Restore(ctx context.Context, snapshotPath, dataDir, name, peerURL string) (err error) {
	entries, err := os.ReadDir(dataDir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("restore etcd snapshot %q: data dir %q is not empty; move it aside first", snapshotPath, dataDir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("restore etcd snapshot %q: %w", snapshotPath, err)
	case strings.ContainsAny(name, "=,") || name == "":
		return fmt.Errorf("restore etcd snapshot %q: member name %q must be non-empty and hold neither '=' nor ','", snapshotPath, name)
	}
	if _, err := os.Stat(snapshotPath); err != nil {
		return fmt.Errorf("restore etcd snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore etcd snapshot %q: %w", snapshotPath, err)
	}
	parent := filepath.Dir(dataDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("restore etcd snapshot %q: %w", snapshotPath, err)
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dataDir)+".restoring-*")
	if err != nil {
		return fmt.Errorf("restore etcd snapshot %q: %w", snapshotPath, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:   snapshotPath,
		Name:           name,
		OutputDataDir:  tmp,
		PeerURLs:       []string{peerURL},
		InitialCluster: name + "=" + peerURL,
		// The token seeds the member and cluster IDs; the fixed one would
		// give a restore on the old cluster's peer URL the old IDs. A
		// member restarting on its data reads its IDs from there, so the
		// token is needed only here.
		InitialClusterToken: clusterToken + "-restored-" + rand.Text(),
		RevisionBump:        restoreRevisionBump,
		MarkCompacted:       true,
	})
	if err != nil {
		return fmt.Errorf("restore etcd snapshot %q into %q: %w", snapshotPath, dataDir, err)
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("restore etcd snapshot %q into %q: %w", snapshotPath, dataDir, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore etcd snapshot %q into %q: %w", snapshotPath, dataDir, err)
	}
	// Rename replaces no directory, not even an empty one; Remove removes
	// only an empty one.
	if err := os.Remove(dataDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore etcd snapshot %q into %q: %w", snapshotPath, dataDir, err)
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		return fmt.Errorf("restore etcd snapshot %q into %q: %w", snapshotPath, dataDir, err)
	}
	syncDir(parent)
	return nil
}

// syncTree flushes every file and directory under root to disk.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			syncDir(path)
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

// syncDir makes a rename in dir durable, where the filesystem allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
