package etcd_test

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
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// crashDirEnv tells TestCrashChild which data directory to run etcd on (and
// crashPortsEnv on which ports): they are set only in the child process that
// TestCrash starts and kills.
const (
	crashDirEnv   = "SKIFF_ETCD_CRASH_DIR"
	crashPortsEnv = "SKIFF_ETCD_CRASH_PORTS"
	crashPrefix   = "/skiff"
)

// TestCrash kills a process running etcd and writing through the backend with
// SIGKILL, starts etcd again on its data directory, and checks that every write the
// backend acknowledged is there, at the revision it was acknowledged with.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for run := range 3 {
		delay := 50*time.Millisecond + rand.N(250*time.Millisecond)
		t.Run(fmt.Sprintf("run%d", run), func(t *testing.T) {
			t.Logf("killing the writer %v after its first write", delay)
			crashOnce(t, delay)
		})
	}
}

type ack struct {
	key string
	rev int64
}

func crashOnce(t *testing.T, delay time.Duration) {
	dir := t.TempDir()
	ports, err := etcdtest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s=%d,%d", crashPortsEnv, ports[0], ports[1]))
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
	case <-time.After(30 * time.Second):
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

	checkAcks(t, dir, acks)
}

func checkAcks(t *testing.T, dir string, acks []ack) {
	ctx := context.Background()
	b := newBackend(t, etcdtest.Start(t, dir, true), crashPrefix)
	current, err := b.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var maxAcked int64
	for _, a := range acks {
		maxAcked = max(maxAcked, a.rev)
	}
	t.Logf("%d acknowledged writes up to revision %d; etcd at revision %d", len(acks), maxAcked, current)
	if current < maxAcked {
		t.Fatalf("etcd at revision %d, but revision %d was acknowledged", current, maxAcked)
	}
	// The counter goes on from where etcd is: no acknowledged revision is reused.
	if rev, err := b.Create(ctx, "/after-crash", nil); err != nil || rev <= current {
		t.Errorf("Create after the crash = revision %d (%v), want > %d", rev, err, current)
	}

	// etcd's history holds one event per revision; each acknowledged write must be
	// the event at its revision, with the value the child wrote.
	history := make(map[int64]storage.Event, current)
	last := map[string]int64{}
	for _, ev := range drain(t, b, "/crash/", 0, current) {
		history[ev.Revision()] = ev
		last[ev.KV.Key] = ev.Revision()
	}
	for _, a := range acks {
		ev, ok := history[a.rev]
		if !ok || ev.KV.Key != a.key {
			t.Fatalf("acknowledged write of %q at revision %d: etcd has %q at that revision", a.key, a.rev, ev.KV.Key)
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
}

func crashValue(typ storage.EventType, key string) string {
	return typ.String() + " " + key
}

// TestCrashChild is the process TestCrash kills. It runs etcd, writes through the
// backend from several goroutines, and prints "ack KEY REV" for each write once the
// write has returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run as TestCrash's child")
	}
	var clientPort, peerPort int
	if _, err := fmt.Sscanf(os.Getenv(crashPortsEnv), "%d,%d", &clientPort, &peerPort); err != nil {
		t.Fatalf("%s=%q: %v", crashPortsEnv, os.Getenv(crashPortsEnv), err)
	}
	s, err := etcdtest.StartOn(dir, clientPort, peerPort, true)
	if err != nil {
		t.Fatal(err)
	}
	// If the parent died, do not write forever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := etcd.Open(ctx, etcd.Config{Endpoints: []string{s.Endpoint}, Prefix: crashPrefix})
	if err != nil {
		t.Fatal(err)
	}
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
