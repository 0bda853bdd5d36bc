package crilog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func rec(sec int, stream, tag, content string) string {
	return t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + content + "\n"
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, path string, opts Options) (stdout, stderr string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if err := (Reader{}).Copy(context.Background(), f, opts, &o, &e); err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String()
}

func n(v int64) *int64 { return &v }

func TestCopy(t *testing.T) {
	log := rec(0, "stdout", "F", "one") +
		rec(1, "stderr", "F", "two") +
		rec(2, "stdout", "P", "three ") +
		rec(3, "stdout", "P", "and ") +
		rec(4, "stdout", "F", "more") +
		rec(5, "stdout", "F", "") +
		rec(6, "stdout", "F:x:y", "future tags") +
		"garbage that is not a record\n" +
		rec(7, "stdout", "F", "last")
	for _, tc := range []struct {
		name           string
		opts           Options
		stdout, stderr string
	}{
		{"all", Options{}, "one\nthree and more\n\nfuture tags\nlast\n", "two\n"},
		{"tail 1", Options{TailLines: n(1)}, "last\n", ""},
		{"tail 3 counts records", Options{TailLines: n(3)}, "future tags\nlast\n", ""},
		{"tail 6 starts inside a split line", Options{TailLines: n(6)}, "and more\n\nfuture tags\nlast\n", ""},
		{"tail 0", Options{TailLines: n(0)}, "", ""},
		{"tail 100", Options{TailLines: n(100)}, "one\nthree and more\n\nfuture tags\nlast\n", "two\n"},
		{"since", Options{Since: t0.Add(4 * time.Second)}, "more\n\nfuture tags\nlast\n", ""},
		{"limit within a line", Options{LimitBytes: n(6)}, "one\n", "tw"},
		{"limit exact", Options{LimitBytes: n(4)}, "one\n", ""},
		{"timestamps once per line", Options{Timestamps: true, Since: t0.Add(2 * time.Second), LimitBytes: n(46)},
			"2024-01-01T00:00:02.000000000Z three and more\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, e := read(t, writeFile(t, log), tc.opts)
			if o != tc.stdout || e != tc.stderr {
				t.Errorf("stdout %q stderr %q\nwant   %q        %q", o, e, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestCopyFormats(t *testing.T) {
	docker := `{"log":"hello\n","stream":"stdout","time":"2024-01-01T00:00:00.5Z"}` + "\n" +
		`{"log":"oops\n","stream":"stderr","time":"2024-01-01T00:00:01Z"}` + "\n"
	o, e := read(t, writeFile(t, docker), Options{Timestamps: true})
	if o != "2024-01-01T00:00:00.500000000Z hello\n" || e != "2024-01-01T00:00:01.000000000Z oops\n" {
		t.Errorf("docker json: %q %q", o, e)
	}
	// An incomplete last record (no newline yet) is still shown.
	o, _ = read(t, writeFile(t, rec(0, "stdout", "F", "done")+strings.TrimSuffix(rec(1, "stdout", "F", "half"), "\n")), Options{})
	if o != "done\nhalf" {
		t.Errorf("incomplete last record: %q", o)
	}
	if o, _ := read(t, writeFile(t, ""), Options{TailLines: n(3)}); o != "" {
		t.Errorf("empty file: %q", o)
	}
	f, _ := os.Open(writeFile(t, "not a log at all\n"))
	if err := (Reader{}).Copy(context.Background(), f, Options{}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Errorf("a file in no known format read without error")
	}
}

func TestTailStart(t *testing.T) {
	for _, tc := range []struct {
		content string
		n       int64
		want    int64
	}{
		{"", 1, 0},
		{"a\nb\nc\n", 0, 6},
		{"a\nb\nc\n", 1, 4},
		{"a\nb\nc\n", 3, 0},
		{"a\nb\nc\n", 9, 0},
		{"a\nb\nc", 1, 2},
		{"a\nb\nc", 0, 4},
		{"abc", 0, 3},
		{"abc", 1, 0},
		{strings.Repeat("x", 70000) + "\n" + strings.Repeat("y", 70000) + "\n", 1, 70001},
	} {
		f, _ := os.Open(writeFile(t, tc.content))
		got, err := tailStart(f, tc.n)
		f.Close()
		if err != nil || got != tc.want {
			t.Errorf("tailStart(%.10q, %d) = %d, %v; want %d", tc.content, tc.n, got, err, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(s)
}

func TestFollow(t *testing.T) {
	path := writeFile(t, rec(0, "stdout", "F", "old"))
	var running atomic.Bool
	running.Store(true)
	var flushes atomic.Int32
	rd := Reader{
		Reopen:  func() (*os.File, error) { return os.Open(path) },
		Running: func(context.Context) bool { return running.Load() },
		Flush:   func() { flushes.Add(1) },
		Poll:    10 * time.Millisecond,
		Check:   20 * time.Millisecond,
	}
	f, _ := os.Open(path)
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- rd.Copy(context.Background(), f, Options{Follow: true, TailLines: n(0)}, &out, &out) }()
	waitFor(t, "the follower to catch up", func() bool { return flushes.Load() > 0 })

	appendTo(t, path, rec(1, "stdout", "F", "new"))
	waitFor(t, "a line appended after the start", func() bool { return out.String() == "new\n" })
	// A half-written record waits for its newline.
	appendTo(t, path, strings.TrimSuffix(rec(2, "stdout", "F", "torn"), "\n"))
	time.Sleep(50 * time.Millisecond)
	if out.String() != "new\n" {
		t.Fatalf("incomplete record written early: %q", out.String())
	}
	appendTo(t, path, "\n")
	waitFor(t, "the completed record", func() bool { return out.String() == "new\ntorn\n" })

	// Rotation: the old file is renamed and a new one created at the path.
	appendTo(t, path, rec(3, "stdout", "F", "before rotation"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, rec(4, "stdout", "F", "after rotation"))
	waitFor(t, "both sides of a rotation", func() bool {
		return out.String() == "new\ntorn\nbefore rotation\nafter rotation\n"
	})

	appendTo(t, path, rec(5, "stdout", "F", "last words"))
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if !strings.HasSuffix(out.String(), "after rotation\nlast words\n") {
		t.Errorf("the last lines were lost: %q", out.String())
	}
}

func TestFollowEnds(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		path := writeFile(t, rec(0, "stdout", "F", "x"))
		f, _ := os.Open(path)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- (Reader{Poll: 10 * time.Millisecond}).Copy(ctx, f, Options{Follow: true}, &bytes.Buffer{}, nil)
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("follow ignored its context")
		}
	})
	t.Run("file removed", func(t *testing.T) {
		path := writeFile(t, rec(0, "stdout", "F", "x"))
		f, _ := os.Open(path)
		rd := Reader{Reopen: func() (*os.File, error) { return os.Open(path) }, Poll: 10 * time.Millisecond, Check: 10 * time.Millisecond}
		done := make(chan error, 1)
		var out syncBuffer
		go func() { done <- rd.Copy(context.Background(), f, Options{Follow: true}, &out, nil) }()
		waitFor(t, "the first line", func() bool { return out.String() == "x\n" })
		os.Remove(path)
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("follow went on after the file was removed")
		}
	})
	t.Run("limit", func(t *testing.T) {
		path := writeFile(t, rec(0, "stdout", "F", "0123456789"))
		f, _ := os.Open(path)
		var out bytes.Buffer
		if err := (Reader{}).Copy(context.Background(), f, Options{Follow: true, LimitBytes: n(5)}, &out, nil); err != nil || out.String() != "01234" {
			t.Errorf("follow with limitBytes = %q, %v", out.String(), err)
		}
	})
}
