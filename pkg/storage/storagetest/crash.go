package storagetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// crashDirEnv tells CrashChild where the backend keeps its data: it is set only in
// the child process that RunCrash starts and kills.
const crashDirEnv = "SKIFF_STORAGETEST_CRASH_DIR"

// crashTimeout bounds the wait for the child's first write (a backend may first start
// a server), and the child's writing should the parent die and never kill it.
const crashTimeout = 30 * time.Second

// CrashConfig is what RunCrash and CrashChild need to know of a backend.
type CrashConfig struct {
	// Open opens the backend on dir, which is where it keeps its data; the test
	// closes it. The child opens it on an empty dir and writes; the parent opens it
	// again on what the killed child left there.
	Open func(t *testing.T, dir string) storage.Backend
	// Check, if set, checks what only this backend promises, after the checks
	// every backend must pass.
	Check func(t *testing.T, r Recovered)
}

// Recovered is what RunCrash found in a backend reopened after its writer was killed.
type Recovered struct {
	// Current is the backend's revision when it was reopened.
	Current int64
	// Next is the revision of the first write after the reopening.
	Next int64
	// History is every event up to Current, in revision order.
	History []storage.Event
}

type ack struct {
	key string
	rev int64
}

// RunCrash kills a process writing through the backend with SIGKILL, reopens the
// backend on the data it left, and checks that every write it acknowledged is there,
// at the revision it was acknowledged with. It runs three times, killing the writer at
// a random moment.
//
// The child process runs the test binary's TestCrashChild, which must call
// CrashChild with the same config.
func RunCrash(t *testing.T, cfg CrashConfig) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for run := range 3 {
		delay := 50*time.Millisecond + rand.N(250*time.Millisecond)
		t.Run(fmt.Sprintf("run%d", run), func(t *testing.T) {
			t.Logf("killing the writer %v after its first write", delay)
			dir := t.TempDir()
			acks := crashChild(t, dir, delay)
			checkAcks(t, cfg, cfg.Open(t, dir), acks)
		})
	}
}

// crashChild starts the child writing on dir, kills it delay after its first
// acknowledged write, and returns every write it acknowledged.
func crashChild(t *testing.T, dir string, delay time.Duration) []ack {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var acks []ack
	first := make(chan struct{})
	read := make(chan error, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			f := strings.Fields(s.Text())
			if len(f) != 3 || f[0] != "ack" {
				continue // the test framework's own output
			}
			rev, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				read <- fmt.Errorf("ack line %q: %v", s.Text(), err)
				return
			}
			if acks = append(acks, ack{f[1], rev}); len(acks) == 1 {
				close(first)
			}
		}
		read <- s.Err()
	}()
	select {
	case <-first:
	case err := <-read:
		cmd.Wait()
		t.Fatalf("child stopped before its first write (%v):\n%s", err, stderr.Bytes())
	case <-time.After(crashTimeout):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no write from the child:\n%s", stderr.Bytes())
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// Acks written before the kill are still in the pipe; read them all.
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("child exited cleanly before it was killed:\n%s", stderr.Bytes())
	}
	return acks
}

func checkAcks(t *testing.T, cfg CrashConfig, b storage.Backend, acks []ack) {
	ctx := context.Background()
	r := Recovered{Current: mustRevision(t, b)}
	var maxAcked int64
	for _, a := range acks {
		maxAcked = max(maxAcked, a.rev)
	}
	t.Logf("%d acknowledged writes up to revision %d; the backend at revision %d", len(acks), maxAcked, r.Current)
	if r.Current < maxAcked {
		t.Fatalf("backend at revision %d, but revision %d was acknowledged", r.Current, maxAcked)
	}
	// The counter goes on from where the backend is: no acknowledged revision is reused.
	var err error
	if r.Next, err = b.Create(ctx, "/after-crash", nil); err != nil || r.Next <= r.Current {
		t.Fatalf("Create after the crash = revision %d (%v), want > %d", r.Next, err, r.Current)
	}

	// The history holds one event per write; each acknowledged write must be the
	// event at its revision, with the value the child wrote. The write above marks
	// where the history to read ends.
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := mustWatch(t, watchCtx, b, "/", 0)
	for ev := recv(t, ch); ev.Revision() != r.Next; ev = recv(t, ch) {
		if ev.Revision() <= r.Current {
			r.History = append(r.History, ev)
		}
	}
	history := make(map[int64]storage.Event, len(r.History))
	last := map[string]int64{}
	for _, ev := range r.History {
		history[ev.Revision()] = ev
		last[ev.KV.Key] = ev.Revision()
	}
	for _, a := range acks {
		ev, ok := history[a.rev]
		if !ok || ev.KV.Key != a.key {
			t.Fatalf("acknowledged write of %q at revision %d: the backend has %q at that revision", a.key, a.rev, ev.KV.Key)
		}
		if want := crashValue(ev.Type, a.key); string(ev.KV.Value) != want {
			t.Errorf("%v of %q at revision %d has value %q, want %q", ev.Type, a.key, a.rev, ev.KV.Value, want)
		}
	}
	// The keys agree with the history.
	for key, rev := range last {
		kv, err := b.Get(ctx, key)
		if err != nil || kv.ModRevision != rev {
			t.Errorf("Get(%q) = revision %d (%v), but the history's last write to it is at %d", key, kv.ModRevision, err, rev)
		}
	}

	if cfg.Check != nil {
		cfg.Check(t, r)
	}
}

func crashValue(typ storage.EventType, key string) string {
	return typ.String() + " " + key
}

// CrashChild is the process RunCrash kills; the test binary's TestCrashChild calls it
// and it skips when run otherwise. It opens the backend, writes from several
// goroutines, and prints "ack KEY REV" for each write once the write has returned.
func CrashChild(t *testing.T, cfg CrashConfig) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run as RunCrash's child")
	}
	b := cfg.Open(t, dir)
	// If the parent died, do not write forever.
	ctx, cancel := context.WithTimeout(context.Background(), crashTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("/crash/%d/%d", w, i)
				rev, err := b.Create(ctx, key, []byte(crashValue(storage.Created, key)))
				if err != nil {
					return
				}
				// One write per line: a line is one write(2), whole in the pipe or absent.
				fmt.Fprintf(os.Stdout, "ack %s %d\n", key, rev)
				if i%3 == 2 {
					key = fmt.Sprintf("/crash/%d/%d", w, i-1)
					if rev, err = b.Update(ctx, key, []byte(crashValue(storage.Updated, key)), 0); err != nil {
						return
					}
					fmt.Fprintf(os.Stdout, "ack %s %d\n", key, rev)
				}
			}
		}()
	}
	wg.Wait()
}
