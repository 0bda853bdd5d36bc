package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/agent/containerd"
)

// DefaultDataDir is the data directory of `skiff server` and `skiff agent`.
const DefaultDataDir = "/var/lib/skiff"

// cniCacheDir is where libcni, inside containerd, caches the result of each
// network a sandbox joined (results/NETWORK-ID-IFNAME: skiff's and the CRI
// plugin's cni-loopback).
var cniCacheDir = "/var/lib/cni"

// Options say which node to clear and where to report.
type Options struct {
	// DataDir is the node's --data-dir (default /var/lib/skiff).
	DataDir string
	// NetNS is the path of the network namespace the node's network lives
	// in (/run/netns/NAME); empty is the one the caller runs in, as for a
	// node started without one.
	NetNS string
	// Out receives one line for each thing stopped or removed.
	Out io.Writer
	// StopTimeout is how long containerd has between SIGTERM and SIGKILL
	// (10s).
	StopTimeout time.Duration
	// CgroupRoot is the pods' cgroup parent (the agent's, /skiff), which
	// Uninstall removes once it is empty.
	CgroupRoot string
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, err
	}
	o.DataDir = abs
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = containerd.DefaultStopTimeout
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = agent.DefaultCgroupRoot
	}
	return o, nil
}

// reporter writes what was done and remembers whether anything was.
type reporter struct {
	w    io.Writer
	done int
}

func (r *reporter) printf(format string, args ...any) {
	r.done++
	fmt.Fprintf(r.w, format+"\n", args...)
}

// Killall stops every pod, shim and containerd of the node whose data
// directory is opts.DataDir, and removes the pods' network namespaces,
// cgroups and mounts, the runtime's state, the pods' address leases and the
// node's network (bridge, routes, VXLAN device, nftables table, load balancer
// interface, hostPort rules). The data stays: the next start begins with no
// pods running and recreates them. It refuses (ErrRunning) while a server or
// agent runs on the directory. Run again, it finds nothing and reports so.
func Killall(ctx context.Context, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	release, err := lockExclusive(opts.DataDir)
	if err != nil {
		return err
	}
	defer release()
	r := &reporter{w: opts.Out}
	if err := killall(ctx, opts, r); err != nil {
		return err
	}
	if r.done == 0 {
		fmt.Fprintf(opts.Out, "Nothing of the Skiff node in %s is running or left behind.\n", opts.DataDir)
	} else {
		fmt.Fprintf(opts.Out, "The Skiff node in %s is stopped; its data is kept (the next start recreates its pods).\n", opts.DataDir)
	}
	return nil
}

func killall(ctx context.Context, opts Options, r *reporter) error {
	var errs []error
	step := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	rt := surveyRuntime(opts.DataDir, nodeNetNS(opts.NetNS))

	// containerd first, so that it neither restarts what dies nor cleans up
	// half of it; then the shims with every process of the containers.
	for _, pid := range rt.containerd {
		if err := terminate(pid, opts.StopTimeout); err != nil {
			step(fmt.Errorf("stopping containerd (pid %d): %w", pid, err))
			continue
		}
		r.printf("stopped containerd (pid %d)", pid)
	}
	podsGone := true
	if pids := append(append([]int(nil), rt.shims...), rt.containers...); len(pids) > 0 {
		if err := kill(pids); err != nil {
			step(err)
			podsGone = false
		} else {
			pods := rt.runningPods()
			r.printf("killed %d containerd shim(s) and %d container process(es)%s", len(rt.shims), len(rt.containers), podList(pods))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	ids := map[string]bool{}
	for _, t := range rt.tasks {
		ids[t.id] = true
	}
	for _, p := range rt.podNetNS {
		step(removeNetNS(p, r))
	}
	step(removeCNICache(ids, r))

	// The sandboxes' hostPort rules, then the node's network unless it is
	// not this node's.
	pm, err := findPortmap(opts.NetNS, ids)
	step(err)
	if err == nil {
		step(pm.remove(opts.NetNS, r.printf))
	}
	nw, err := surveyNetwork(opts.DataDir, opts.NetNS)
	step(err)
	if nw.foreign != "" && !nw.empty() {
		fmt.Fprintf(opts.Out, "left the node network (%s) alone: %s\n", strings.Join(nw.names(), ", "), nw.foreign)
	} else if err == nil {
		step(nw.remove(opts.NetNS, r.printf))
	}
	if podsGone {
		step(releaseLeases(opts.DataDir, r))
	}
	step(removeCgroups(rt.tasks, r))
	step(unmountUnder(opts.DataDir, r))
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// The runtime's state is what a reboot clears: with it gone, containerd
	// starts as after one. Kept when something above failed, for a rerun.
	if len(errs) == 0 {
		for _, dir := range []string{rt.paths.State, rt.paths.RuncRoot} {
			if _, err := os.Lstat(dir); err != nil {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				step(err)
				continue
			}
			r.printf("removed %s (the runtime's state of the stopped containers)", dir)
		}
		for _, f := range []string{rt.paths.PIDFile, rt.paths.Socket, rt.paths.Socket + ".ttrpc"} {
			_ = os.Remove(f)
		}
	}
	return errors.Join(errs...)
}

// nodeNetNS is the set of network namespace inodes that are the node's, never
// a pod's: the one named (or ours).
func nodeNetNS(nsPath string) map[uint64]bool {
	out := map[uint64]bool{netnsInode("/proc/self/ns/net"): true}
	if nsPath != "" {
		out[netnsInode(nsPath)] = true
	}
	delete(out, 0)
	return out
}

func podList(pods []string) string {
	if len(pods) == 0 {
		return ""
	}
	return fmt.Sprintf(" of %d pod(s): %s", len(pods), listNames(pods))
}

// listNames lists the first few names, and how many more there are.
func listNames(names []string) string {
	const show = 5
	s := strings.Join(names[:min(show, len(names))], ", ")
	if len(names) > show {
		s += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return s
}

// removeNetNS unpins and removes a pod's network namespace.
func removeNetNS(path string, r *reporter) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing network namespace %s: %w", path, err)
	}
	r.printf("removed network namespace %s", path)
	return nil
}

// removeCNICache removes what libcni cached for the sandboxes ids.
func removeCNICache(ids map[string]bool, r *reporter) error {
	var errs []error
	entries, _ := os.ReadDir(filepath.Join(cniCacheDir, "results"))
	for _, e := range entries {
		for id := range ids {
			if !strings.Contains(e.Name(), "-"+id+"-") {
				continue
			}
			f := filepath.Join(cniCacheDir, "results", e.Name())
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			r.printf("removed %s", f)
		}
	}
	return errors.Join(errs...)
}

// releaseLeases removes host-local's address leases: with every sandbox
// gone, none is in use.
func releaseLeases(dataDir string, r *reporter) error {
	dir := filepath.Join(agent.CNIIPAMDir(dataDir), agent.CNINetwork)
	entries, _ := os.ReadDir(dir)
	var released []string
	var errs []error
	for _, e := range entries {
		if net.ParseIP(e.Name()) == nil {
			continue // last_reserved_ip.0, lock
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		released = append(released, e.Name())
	}
	if len(released) > 0 {
		sort.Strings(released)
		r.printf("released pod address(es) %s (%s)", strings.Join(released, ", "), dir)
	}
	return errors.Join(errs...)
}

// removeCgroups removes the containers' cgroups from every hierarchy, and
// their pod's cgroup once it is empty. A cgroup that still holds a process
// is an error: nothing is killed here.
func removeCgroups(tasks []task, r *reporter) error {
	var errs []error
	parents := map[string]bool{}
	mounts := containerd.CgroupMounts()
	rm := func(cg string, mustGo bool) {
		removed := false
		for _, m := range mounts {
			err := rmdirCgroup(filepath.Join(m, cg), mustGo)
			switch {
			case err == nil:
				removed = true
			case errors.Is(err, unix.ENOENT):
			case !mustGo && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)):
			default:
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", filepath.Join(m, cg), err))
			}
		}
		if removed {
			r.printf("removed cgroup %s", cg)
		}
	}
	for _, t := range tasks {
		cg := filepath.Clean("/" + t.cgroup)
		if t.cgroup == "" || strings.Count(cg, "/") < 2 {
			continue // never a top-level cgroup
		}
		rm(cg, true)
		parents[filepath.Dir(cg)] = true
	}
	for _, p := range sortedKeys(parents) {
		if strings.Count(p, "/") >= 2 {
			rm(p, false)
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup removes a cgroup directory; one that must go gets a moment for
// the processes just killed to leave it.
func rmdirCgroup(dir string, mustGo bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if !mustGo || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unmountUnder unmounts everything mounted at or below dir, deepest first.
func unmountUnder(dir string, r *reporter) error {
	var errs []error
	seen := map[string]bool{}
	for _, p := range containerd.MountsUnder(dir) {
		err := unix.Unmount(p, unix.MNT_DETACH)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
			continue
		}
		if !seen[p] {
			seen[p] = true
			r.printf("unmounted %s", p)
		}
	}
	return errors.Join(errs...)
}
