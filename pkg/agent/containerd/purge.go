package containerd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PurgeOptions says what else to remove besides the runtime's own files.
type PurgeOptions struct {
	// CgroupRoot is the cgroup parent the agent put its pods under (e.g.
	// "/skiff"); its directories are removed from every cgroup hierarchy.
	CgroupRoot string
}

// Purge removes every trace of the containerd supervised for dataDir, even if
// the agent or containerd crashed: containerd itself, every container runc
// started under its runc root (killing a container's init ends its PID
// namespace), the shims, the pods' network namespaces, the cgroups under
// opts.CgroupRoot and every mount under dataDir. The files stay; the caller
// removes dataDir if it wants to. Tests call it in their cleanup.
func Purge(dataDir string, opts PurgeOptions) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	paths := PathsFor(abs)
	var errs []error

	if b, err := os.ReadFile(paths.PIDFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isOurContainerd(pid, paths.Config) {
			errs = append(errs, signalAndWait(pid, 5*time.Second))
		}
		_ = os.Remove(paths.PIDFile)
	}

	// The containers, and the network namespaces their sandboxes hold.
	inits := runcInits(paths.RuncRoot)
	netnsInodes := map[uint64]bool{}
	for _, pid := range inits {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil {
			netnsInodes[st.Ino] = true
		}
	}
	var hostNet syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &hostNet) == nil {
		delete(netnsInodes, hostNet.Ino) // never the namespace we run in
	}
	for _, pid := range inits {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range shims(paths.Socket) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range append(inits, shims(paths.Socket)...) {
		waitGone(pid, 5*time.Second)
	}
	errs = append(errs, removeNetNS(netnsInodes))
	if opts.CgroupRoot != "" {
		errs = append(errs, RemoveCgroups(opts.CgroupRoot))
	}
	errs = append(errs, UnmountUnder(abs))
	return errors.Join(errs...)
}

// runcInits finds the init process of every container runc keeps state for
// under root (root/NAMESPACE/ID/state.json).
func runcInits(root string) []int {
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "state.json"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st struct {
			InitProcessPid int `json:"init_process_pid"`
		}
		if json.Unmarshal(b, &st) == nil && st.InitProcessPid > 0 && processExists(st.InitProcessPid) {
			pids = append(pids, st.InitProcessPid)
		}
	}
	return pids
}

// shims finds the containerd-shim-runc-v2 processes serving the containerd
// listening on socket.
func shims(socket string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && (args[i+1] == socket || args[i+1] == "unix://"+socket) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func waitGone(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for processExists(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// removeNetNS unmounts and removes the named network namespaces (under
// /run/netns, where the CRI plugin pins them) whose inode is in inodes.
func removeNetNS(inodes map[uint64]bool) error {
	if len(inodes) == 0 {
		return nil
	}
	var errs []error
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			var st syscall.Stat_t
			if syscall.Stat(p, &st) != nil || !inodes[st.Ino] {
				continue
			}
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
				continue
			}
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// RemoveCgroups removes the directory root (e.g. "/skiff") and everything
// below it from every mounted cgroup hierarchy, deepest first. Processes still
// inside are killed first.
func RemoveCgroups(root string) error {
	root = strings.Trim(root, "/")
	if root == "" {
		return errors.New("refusing to remove the root cgroup")
	}
	var errs []error
	for _, mnt := range cgroupMounts() {
		top := filepath.Join(mnt, root)
		if _, err := os.Stat(top); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := rmdirCgroup(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func rmdirCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cgroup.procs", "tasks"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			for _, line := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(line); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupMounts lists the mount points of the cgroup (v1 and v2) hierarchies.
func cgroupMounts() []string {
	var out []string
	for _, m := range mountInfo() {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			out = append(out, m.point)
		}
	}
	return out
}

type mount struct{ point, fstype string }

func mountInfo() []mount {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			continue
		}
		out = append(out, mount{point: unescapeMount(fields[4]), fstype: fields[sep+1]})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CgroupMounts lists the mount points of the cgroup (v1 and v2) hierarchies.
func CgroupMounts() []string { return cgroupMounts() }

// MountsUnder lists the mount points at or below dir, deepest first.
func MountsUnder(dir string) []string {
	dir = filepath.Clean(dir)
	var points []string
	for _, m := range mountInfo() {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			points = append(points, m.point)
		}
	}
	sort.SliceStable(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points
}

// UnmountUnder lazily unmounts every mount point at or below dir, deepest
// first.
func UnmountUnder(dir string) error {
	var errs []error
	for _, p := range MountsUnder(dir) {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
