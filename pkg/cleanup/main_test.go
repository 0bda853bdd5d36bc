package cleanup

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The test binary doubles as the processes a node leaves behind: run with
// helperEnv set, it plays one of them (under whatever argv[0] the test gives
// it) instead of running tests.
const helperEnv = "SKIFF_CLEANUP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "sleep":
		time.Sleep(time.Hour)
	case "shim":
		// A shim with a container below it; the child's pid goes to stdout.
		child := helper("sleep", "container")
		if err := child.Start(); err != nil {
			os.Exit(1)
		}
		os.Stdout.WriteString(strconv.Itoa(child.Process.Pid) + "\n")
		time.Sleep(time.Hour)
	case "lock":
		// A running node: it holds the data directory's lock.
		release, err := Lock(os.Args[len(os.Args)-1])
		if err != nil {
			os.Exit(1)
		}
		defer release()
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// helper is a command running this test binary as the helper kind, with args
// as its whole argv (argv[0] included).
func helper(kind string, args ...string) *exec.Cmd {
	return &exec.Cmd{Path: self(), Args: args, Env: append(os.Environ(), helperEnv+"="+kind)}
}

// self is this test binary.
func self() string {
	p, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return p
}

// startHelper starts a helper and ends it when the test ends.
func startHelper(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}
