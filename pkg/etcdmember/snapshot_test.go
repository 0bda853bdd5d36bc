package etcdmember

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotRestore saves a snapshot, through a client dialled as
// `skiff etcd-snapshot save` dials, writes after it, and restores the
// snapshot into a new one-member cluster on the old member's name and peer
// URL: what was written before is there, what came after is not, and the
// cluster is not the old one.
func TestSnapshotRestore(t *testing.T) {
	ca := testCA(t)
	m := start(t, testConfig(t, ca, "old"))
	cfg := m.cfg
	put(t, m, "/registry/before/1", "a")
	put(t, m, "/registry/before/2", "b")
	before, err := m.Client().Get(ctxTimeout(t, 5*time.Second), "/registry/before/2")
	if err != nil {
		t.Fatal(err)
	}
	oldCluster, oldMember := m.etcd.Server.Cluster().ID(), m.ID()

	certs := CertsIn(filepath.Dir(cfg.Certs.CAFile))
	if certs != cfg.Certs {
		t.Fatalf("CertsIn = %+v, want what EnsureCerts returned, %+v", certs, cfg.Certs)
	}
	cli, err := Dial(ctxTimeout(t, 10*time.Second), certs, []string{cfg.localClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dir := filepath.Join(t.TempDir(), "snapshots")
	began := time.Now()
	path, err := Save(ctxTimeout(t, 10*time.Second), cli, dir, "on-demand")
	if err != nil {
		t.Fatal(err)
	}
	put(t, m, "/registry/after", "c")

	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Path != path || list[0].Size != info.Size() || list[0].Size == 0 ||
		!strings.HasPrefix(list[0].Name, "on-demand-") || list[0].Time.Before(began.Truncate(time.Millisecond)) || list[0].Time.After(time.Now()) {
		t.Errorf("List = %+v, want the one snapshot at %s (%d bytes)", list, path, info.Size())
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", mode)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("snapshot dir holds %d entries, want only the snapshot", len(entries))
	}
	m.Stop()

	restored := cfg
	restored.DataDir = filepath.Join(t.TempDir(), "etcd")
	if err := os.MkdirAll(restored.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored.DataDir, "old"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Restore(t.Context(), path, restored.DataDir, restored.Name, restored.peerURL()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Restore into a used data dir: %v, want an error that says it is not empty", err)
	}
	if err := os.Remove(filepath.Join(restored.DataDir, "old")); err != nil {
		t.Fatal(err)
	}

	// A restore that fails, here on a snapshot damaged after it was
	// saved, leaves nothing a member would start on.
	stream, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stream[len(stream)/2] ^= 0xff
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.WriteFile(damaged, stream, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Restore(t.Context(), damaged, restored.DataDir, restored.Name, restored.peerURL()); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("Restore of a damaged snapshot: %v, want a checksum error", err)
	}
	wantOnlyDataDir(t, restored.DataDir, true)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Restore(canceled, path, restored.DataDir, restored.Name, restored.peerURL()); err == nil {
		t.Error("Restore with a canceled context: no error")
	}
	wantOnlyDataDir(t, restored.DataDir, true)

	// Into the empty data dir the refused restores left.
	if err := Restore(t.Context(), path, restored.DataDir, restored.Name, restored.peerURL()); err != nil {
		t.Fatal(err)
	}
	wantOnlyDataDir(t, restored.DataDir, false)
	r := start(t, restored)
	if got := get(t, r, "/registry/before/1") + get(t, r, "/registry/before/2"); got != "ab" {
		t.Errorf("restored keys written before the snapshot = %q, want ab", got)
	}
	if got := get(t, r, "/registry/after"); got != "" {
		t.Errorf("restored a key written after the snapshot: %q", got)
	}
	wantMembers(t, r, map[string]bool{"old": false})
	// Same name, same peer URL, yet another cluster: a member still on the
	// old cluster's data is refused, not taken for a peer.
	if c := r.etcd.Server.Cluster().ID(); c == oldCluster {
		t.Errorf("restored cluster ID %v is the old cluster's", c)
	}
	if id := r.ID(); id == oldMember {
		t.Errorf("restored member ID %x is the old member's", id)
	}

	// Revisions go on past the old cluster's, and a watch from before the
	// restore hears that it is too old rather than waiting.
	put(t, r, "/registry/new", "d")
	resp, err := r.Client().Get(ctxTimeout(t, 5*time.Second), "/registry/new")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision <= before.Header.Revision+restoreRevisionBump {
		t.Errorf("revision after restore %d, want more than %d", resp.Header.Revision, before.Header.Revision+restoreRevisionBump)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	wr := <-r.Client().Watch(ctx, "/registry/", clientv3.WithRev(before.Header.Revision))
	if wr.CompactRevision == 0 {
		t.Errorf("watch from revision %d after restore: %+v, want compacted", before.Header.Revision, wr)
	}
}

// wantOnlyDataDir checks that dataDir's parent holds dataDir alone, empty
// or not as asked: no member data, no unfinished restore beside it.
func wantOnlyDataDir(t *testing.T, dataDir string, empty bool) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{filepath.Base(dataDir)}) {
		t.Errorf("beside the data dir: %v, want only %s", names, filepath.Base(dataDir))
	}
	in, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if empty != (len(in) == 0) {
		t.Errorf("data dir %s holds %d entries, want empty %v", dataDir, len(in), empty)
	}
	if !empty {
		if _, err := os.Stat(filepath.Join(dataDir, "member", "wal")); err != nil {
			t.Errorf("restored data dir: %v", err)
		}
	}
}

// streamMaintenance serves one snapshot stream, as it came over the wire.
type streamMaintenance struct {
	clientv3.Maintenance // only SnapshotWithVersion is called
	stream               []byte
}

func (s streamMaintenance) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	return &clientv3.SnapshotResponse{Snapshot: io.NopCloser(bytes.NewReader(s.stream)), Version: "3.7.0"}, nil
}

func streamClient(t *testing.T, stream []byte) *clientv3.Client {
	cli := clientv3.NewCtxClient(t.Context())
	cli.Maintenance = streamMaintenance{stream: stream}
	return cli
}

// snapshotStream is what etcd sends for a database: it and its SHA-256.
func snapshotStream(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(slices.Clone(db), sum[:]...)
}

// TestSaveChecksStream saves streams that are whole and that are not: only
// a database that matches the checksum after it becomes a snapshot.
func TestSaveChecksStream(t *testing.T) {
	db := bytes.Repeat([]byte("skiff-db"), 2*4096/8)
	good := snapshotStream(db)
	flip := func(i int) []byte {
		b := slices.Clone(good)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		stream []byte
		want   string // in the error; "" for none
	}{
		{"whole", good, ""},
		{"damaged database", flip(1000), "does not match the SHA-256"},
		{"damaged checksum", flip(len(good) - 1), "does not match the SHA-256"},
		{"cut short", good[:len(good)-10], "cut short"},
		{"checksum alone", good[len(db):], "does not match the SHA-256"},
		{"empty", nil, "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := Save(t.Context(), streamClient(t, tt.stream), dir, "s")
			entries, _ := os.ReadDir(dir)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || len(entries) != 0 {
					t.Errorf("Save = %q, %v, leaving %d files; want an error saying %q and no file", path, err, len(entries), tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, good) || len(entries) != 1 {
				t.Errorf("saved %d bytes (%v) among %d files, want the %d streamed alone", len(got), err, len(entries), len(good))
			}
		})
	}
}

// TestSaveKeepsSameMillisecond saves twice under one name in the same
// millisecond: the second goes beside the first, not over it.
func TestSaveKeepsSameMillisecond(t *testing.T) {
	dir := t.TempDir()
	taken := time.UnixMilli(1700000000000)
	first, second := snapshotStream(bytes.Repeat([]byte{1}, 512)), snapshotStream(bytes.Repeat([]byte{2}, 512))
	p1, err := save(t.Context(), streamClient(t, first), dir, "s", taken)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := save(t.Context(), streamClient(t, second), dir, "s", taken)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p1) != "s-1700000000000" || filepath.Base(p2) != "s-1700000000001" {
		t.Errorf("saved as %s and %s, want s-1700000000000 and s-1700000000001", p1, p2)
	}
	for path, want := range map[string][]byte{p1: first, p2: second} {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s holds %d bytes (%v), want its own %d", path, len(got), err, len(want))
		}
	}
	if list, err := List(dir); err != nil || len(list) != 2 {
		t.Errorf("List = %+v, %v; want both", list, err)
	}
}

func TestDialWithoutCerts(t *testing.T) {
	_, err := Dial(t.Context(), CertsIn(t.TempDir()), []string{"https://127.0.0.1:1"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dial with no certificate files: %v, want one that wraps fs.ErrNotExist", err)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		"scheduled-1700000000000", "scheduled-1700000300000", "scheduled-1700000100000", "scheduled-1700000200000",
		"on-demand-1600000000000",                      // another name: kept
		".scheduled-1700000400000.part-1", "notes.txt", // not snapshots
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Prune(dir, "scheduled", 0); err == nil {
		t.Error("Prune keeping none: no error")
	}
	if err := Prune(dir, "scheduled", 2); err != nil {
		t.Fatal(err)
	}
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if want := []string{"scheduled-1700000300000", "scheduled-1700000200000", "on-demand-1600000000000"}; !slices.Equal(names, want) {
		t.Errorf("after Prune(2): List = %v, want %v", names, want)
	}
	if list[0].Time != time.UnixMilli(1700000300000) || list[0].Size != int64(len("scheduled-1700000300000")) {
		t.Errorf("List[0] = %+v", list[0])
	}
	for _, f := range []string{".scheduled-1700000400000.part-1", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("Prune touched %s: %v", f, err)
		}
	}
	if list, err := List(filepath.Join(dir, "missing")); err != nil || len(list) != 0 {
		t.Errorf("List of a missing dir = %v, %v; want none", list, err)
	}
}

func TestSaveRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "../x", "a/b", ".hidden", "-x"} {
		if _, err := Save(t.Context(), nil, t.TempDir(), name); err == nil {
			t.Errorf("Save(%q): no error", name)
		}
	}
}

// TestScheduler runs a schedule until it has pruned: the newest snapshots
// stay, as many as asked.
func TestScheduler(t *testing.T) {
	m := start(t, testConfig(t, testCA(t), "sched"))
	dir := t.TempDir()
	if _, err := Save(ctxTimeout(t, 10*time.Second), m.Client(), dir, "by-hand"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s := &Scheduler{Client: m.Client(), Dir: dir, Every: 50 * time.Millisecond, Keep: 2, Logger: testLogger(t)}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	seen := map[string]bool{}
	look := func() (scheduled, byHand []string) {
		t.Helper()
		list, err := List(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if strings.HasPrefix(s.Name, "by-hand-") {
				byHand = append(byHand, s.Name)
			} else {
				scheduled = append(scheduled, s.Name)
				seen[s.Name] = true
			}
		}
		return scheduled, byHand
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 4 && time.Now().Before(deadline) {
		look()
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	scheduled, byHand := look()
	if len(seen) < 4 {
		t.Fatalf("saw %d scheduled snapshots in 20s, want 4", len(seen))
	}
	// Names sort by time; List lists newest first.
	all := slices.Sorted(maps.Keys(seen))
	newest := slices.Clone(all[len(all)-2:])
	slices.Reverse(newest)
	if !slices.Equal(scheduled, newest) || len(byHand) != 1 {
		t.Errorf("after the schedule: %v and %v, want the 2 newest scheduled ones %v and the one by hand", scheduled, byHand, newest)
	}

	if err := (&Scheduler{Client: m.Client(), Dir: dir, Every: time.Second}).Run(t.Context()); err == nil {
		t.Error("Run keeping no snapshots: no error")
	}
}
