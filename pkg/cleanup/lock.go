package cleanup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockFile, in the data directory, is held (shared) by every `skiff server`
// and `skiff agent` running on it, and (exclusively) by Killall and Uninstall.
const LockFile = "skiff.lock"

// ErrRunning is wrapped by Killall's and Uninstall's error when a server or
// agent still runs on the data directory, and by Lock's when a clean-up does.
var ErrRunning = errors.New("in use")

// Lock marks dataDir as in use by a running node until release is called:
// Killall and Uninstall refuse to run meanwhile. It creates dataDir if
// missing. When the directory cannot be created or locked for lack of
// permission, it returns a no-op release and no error: the node itself will
// say what is wrong with its data directory.
//
// A node that stops having written nothing else (a join the server refused)
// leaves no trace: release removes the lock file, and the directory, if Lock
// made them and they hold nothing more.
func Lock(dataDir string) (release func(), err error) {
	noop := func() {}
	_, statErr := os.Stat(dataDir)
	madeDir := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return noop, nil
	}
	path := filepath.Join(dataDir, LockFile)
	_, statErr = os.Stat(path)
	madeFile := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return noop, nil
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return noop, fmt.Errorf("data directory %s: %w: `skiff killall` or `skiff uninstall` is clearing it; start again when it has finished", dataDir, ErrRunning)
		}
		return noop, nil
	}
	return func() {
		f.Close()
		if entries, err := os.ReadDir(dataDir); err == nil && madeFile && len(entries) == 1 && entries[0].Name() == LockFile {
			_ = os.Remove(path)
			if madeDir {
				_ = os.Remove(dataDir)
			}
		}
	}, nil
}

// lockExclusive takes the data directory's lock for a clean-up, or explains
// who holds it. A missing directory needs no lock.
func lockExclusive(dataDir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dataDir, LockFile), os.O_RDONLY|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dataDir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", dataDir, err)
		}
		var who []string
		for _, h := range lockHolders() {
			if h.dir == dataDir && h.pid != os.Getpid() {
				who = append(who, fmt.Sprintf("%s (pid %d)", h.command, h.pid))
			}
		}
		if len(who) == 0 {
			who = []string{"a skiff server or agent"}
		}
		return nil, fmt.Errorf("%s is still running on %s: %w; stop it first (Ctrl-C where it runs, or kill PID), then run this again",
			strings.Join(who, ", "), dataDir, ErrRunning)
	}
	return func() { f.Close() }, nil
}

// holder is a process with a data directory's lock file open.
type holder struct {
	pid     int
	dir     string // the data directory
	command string // "skiff server", "skiff agent", ...
	netns   uint64 // inode of its network namespace
}

// lockHolders finds the processes that have a Skiff lock file open, with the
// data directory of each.
func lockHolders() []holder {
	entries, _ := os.ReadDir("/proc")
	var out []holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if err != nil || filepath.Base(target) != LockFile {
				continue
			}
			out = append(out, holder{pid: pid, dir: filepath.Dir(target), command: commandOf(pid), netns: netnsInode(fmt.Sprintf("/proc/%d/ns/net", pid))})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// commandOf names a process by its first two arguments ("skiff server").
func commandOf(pid int) string {
	args := cmdline(pid)
	if len(args) == 0 {
		return "process"
	}
	args[0] = filepath.Base(args[0])
	if len(args) > 2 {
		args = args[:2]
	}
	return strings.Join(args, " ")
}
