package etcdmember

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotRestore saves a snapshot, writes after it, and restores the
// snapshot into a new one-member cluster: what was written before is there,
// what came after is not.
func TestSnapshotRestore(t *testing.T) {
	ca := testCA(t)
	cfg := testConfig(t, ca, "old")
	m := start(t, cfg)
	put(t, m, "/registry/before/1", "a")
	put(t, m, "/registry/before/2", "b")
	before, err := m.Client().Get(ctxTimeout(t, 5*time.Second), "/registry/before/2")
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "snapshots")
	began := time.Now()
	path, err := Save(ctxTimeout(t, 10*time.Second), m.Client(), dir, "on-demand")
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

	restored := testConfig(t, ca, "restored")
	if err := os.MkdirAll(restored.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored.DataDir, "old"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Restore(path, restored.DataDir, restored.Name, restored.peerURL()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Restore into a used data dir: %v, want an error that says it is not empty", err)
	}
	if err := os.RemoveAll(restored.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := Restore(path, restored.DataDir, restored.Name, restored.peerURL()); err != nil {
		t.Fatal(err)
	}
	r := start(t, restored)
	if got := get(t, r, "/registry/before/1") + get(t, r, "/registry/before/2"); got != "ab" {
		t.Errorf("restored keys written before the snapshot = %q, want ab", got)
	}
	if got := get(t, r, "/registry/after"); got != "" {
		t.Errorf("restored a key written after the snapshot: %q", got)
	}
	wantMembers(t, r, map[string]bool{"restored": false})

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
