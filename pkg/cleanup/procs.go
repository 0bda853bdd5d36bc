package cleanup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one entry of /proc.
type process struct {
	pid, ppid int
	args      []string
}

// processes reads the process table, without zombies.
func processes() map[int]process {
	entries, _ := os.ReadDir("/proc")
	out := map[int]process{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := stat(pid)
		if !ok || state == 'Z' {
			continue
		}
		out[pid] = process{pid: pid, ppid: ppid, args: cmdline(pid)}
	}
	return out
}

// stat reads a process's parent and state from /proc/PID/stat.
func stat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func alive(pid int) bool {
	_, state, ok := stat(pid)
	return ok && state != 'Z'
}

// flagValue is the value of -name or --name in args ("-name V", "-name=V").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, prefix := range []string{"-", "--"} {
			switch {
			case a == prefix+name && i+1 < len(args):
				return args[i+1], true
			case strings.HasPrefix(a, prefix+name+"="):
				return strings.TrimPrefix(a, prefix+name+"="), true
			}
		}
	}
	return "", false
}

// isContainerd: a containerd started with config, as the supervisor starts it.
func isContainerd(p process, config string) bool {
	if len(p.args) == 0 || filepath.Base(p.args[0]) != "containerd" {
		return false
	}
	v, ok := flagValue(p.args, "config")
	return ok && v == config
}

// isShim: a containerd shim serving the containerd that listens on socket.
func isShim(p process, socket string) bool {
	if len(p.args) == 0 || !strings.HasPrefix(filepath.Base(p.args[0]), "containerd-shim") {
		return false
	}
	v, ok := flagValue(p.args, "address")
	return ok && (v == socket || v == "unix://"+socket)
}

// descendants lists every process below the roots, not the roots themselves.
func descendants(procs map[int]process, roots []int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	queue := slices.Clone(roots)
	seen := map[int]bool{}
	for _, r := range roots {
		seen[r] = true
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// terminate sends SIGTERM, then SIGKILL after timeout, and waits until the
// process is gone.
func terminate(pid int, timeout time.Duration) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone([]int{pid}, timeout) {
		return nil
	}
	return kill([]int{pid})
}

// kill sends SIGKILL to every pid and waits until they are gone.
func kill(pids []int) error {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if waitGone(pids, 10*time.Second) {
		return nil
	}
	var left []string
	for _, pid := range pids {
		if alive(pid) {
			left = append(left, strconv.Itoa(pid))
		}
	}
	return fmt.Errorf("processes %s survived SIGKILL (stuck in the kernel?)", strings.Join(left, ", "))
}

func waitGone(pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		gone := true
		for _, pid := range pids {
			gone = gone && !alive(pid)
		}
		if gone {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func netnsInode(path string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}
