package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/pkg/cleanup"
)

// TestRunNode: while a server or agent runs, killall refuses to touch its
// data directory; when it stops on a signal it says what it left running
// (here: nothing) and how to remove it; when it fails, it says only that.
func TestRunNode(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	err := runNode(ctx, dir, &out, func() error {
		if err := cleanup.Killall(context.Background(), cleanup.Options{DataDir: dir}); !errors.Is(err, cleanup.ErrRunning) {
			t.Errorf("killall while the node runs: %v, want ErrRunning", err)
		}
		cancel() // Ctrl-C
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Skiff stopped; nothing of this node is left running.\n"; out.String() != want {
		t.Errorf("on stop printed %q, want %q", out.String(), want)
	}
	if err := cleanup.Killall(context.Background(), cleanup.Options{DataDir: dir}); err != nil {
		t.Errorf("killall after the node stopped: %v", err)
	}

	out.Reset()
	failed := errors.New("listening on port 6443: address already in use")
	if err := runNode(context.Background(), dir, &out, func() error { return failed }); err != failed || out.Len() > 0 {
		t.Errorf("a node that failed: %v, printed %q; want its error alone", err, out.String())
	}
}

func TestKillallNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root: the refusal is for other users")
	}
	for _, verb := range []string{"killall", "uninstall"} {
		root := newRoot([]string{verb})
		root.SetArgs([]string{verb, "--data-dir", t.TempDir()})
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "run it as root (sudo") {
			t.Errorf("skiff %s as a user: %v; want it to ask for root", verb, err)
		}
	}
}
