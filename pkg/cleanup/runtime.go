package cleanup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
)

// taskDirs are where containerd 1.6's runc v2 shims keep a task's bundle
// (STATE/io.containerd.runtime.v2.task/NAMESPACE/ID/config.json), and where
// runc keeps a container's state (RUNC_ROOT/NAMESPACE/ID/state.json).
const taskDir = "io.containerd.runtime.v2.task"

// task is one container or pod sandbox the runtime made, from its bundle
// and runc's state.
type task struct {
	id      string
	sandbox bool
	pod     string // NAMESPACE/NAME of the pod, for sandboxes
	netns   string // the network namespace the spec names, if a path
	cgroup  string // the spec's cgroupsPath
	initPID int    // runc's init process, 0 when it is gone
}

// runtime is what the containerd supervised for one data directory has left
// on the host.
type runtime struct {
	paths      containerd.Paths
	containerd []int // containerd processes started with this directory's config
	shims      []int
	containers []int // every process of every container
	tasks      []task
	podNetNS   []string // the pods' network namespaces (/run/netns/cni-...)
}

// surveyRuntime finds the runtime of dataDir. exclude are network namespace
// inodes that are never a pod's (the node's own).
func surveyRuntime(dataDir string, exclude map[uint64]bool) runtime {
	rt := runtime{paths: containerd.PathsFor(dataDir)}
	rt.tasks = readTasks(rt.paths)
	procs := processes()
	self := os.Getpid()
	for _, p := range procs {
		switch {
		case p.pid == self || p.pid <= 1:
		case isContainerd(p, rt.paths.Config):
			rt.containerd = append(rt.containerd, p.pid)
		case isShim(p, rt.paths.Socket):
			rt.shims = append(rt.shims, p.pid)
		}
	}
	sort.Ints(rt.containerd)
	sort.Ints(rt.shims)

	// A container's processes: below its shim, its init (a shim that died
	// leaves it reparented), and whatever else is in its cgroup.
	members := map[int]bool{}
	for _, pid := range descendants(procs, rt.shims) {
		members[pid] = true
	}
	mounts := containerd.CgroupMounts()
	for _, t := range rt.tasks {
		if t.initPID > 0 {
			members[t.initPID] = true
		}
		if t.cgroup == "" {
			continue
		}
		for _, m := range mounts {
			b, _ := os.ReadFile(filepath.Join(m, t.cgroup, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					members[pid] = true
				}
			}
		}
	}
	for _, pid := range append(rt.containerd, rt.shims...) {
		delete(members, pid)
	}
	delete(members, self)
	delete(members, 1)
	for pid := range members {
		if alive(pid) {
			rt.containers = append(rt.containers, pid)
		}
	}
	sort.Ints(rt.containers)

	// The pods' network namespaces: the one each sandbox's spec names, and
	// any that the runtime's processes are in and the CRI plugin pinned.
	byInode := map[uint64]string{}
	for _, t := range rt.tasks {
		if isPinnedNetNS(t.netns) {
			if ino := netnsInode(t.netns); ino != 0 && !exclude[ino] {
				byInode[ino] = t.netns
			}
		}
	}
	inodes := map[uint64]bool{}
	for _, pid := range rt.containers {
		if ino := netnsInode(fmt.Sprintf("/proc/%d/ns/net", pid)); ino != 0 && !exclude[ino] {
			inodes[ino] = true
		}
	}
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if ino := netnsInode(p); strings.HasPrefix(e.Name(), "cni-") && inodes[ino] && byInode[ino] == "" {
				byInode[ino] = p
			}
		}
	}
	for _, p := range byInode {
		rt.podNetNS = append(rt.podNetNS, p)
	}
	sort.Strings(rt.podNetNS)
	return rt
}

// isPinnedNetNS: a named network namespace, where the CRI plugin pins a pod's.
func isPinnedNetNS(p string) bool {
	return strings.HasPrefix(p, "/run/netns/") || strings.HasPrefix(p, "/var/run/netns/")
}

// readTasks reads every task the runtime has state for.
func readTasks(paths containerd.Paths) []task {
	byID := map[string]*task{}
	get := func(id string) *task {
		if byID[id] == nil {
			byID[id] = &task{id: id}
		}
		return byID[id]
	}
	bundles, _ := filepath.Glob(filepath.Join(paths.State, taskDir, "*", "*", "config.json"))
	for _, f := range bundles {
		var spec struct {
			Annotations map[string]string `json:"annotations"`
			Linux       struct {
				CgroupsPath string `json:"cgroupsPath"`
				Namespaces  []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &spec) != nil {
			continue
		}
		t := get(filepath.Base(filepath.Dir(f)))
		t.cgroup = spec.Linux.CgroupsPath
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == "network" {
				t.netns = ns.Path
			}
		}
		a := spec.Annotations
		if a["io.kubernetes.cri.container-type"] == "sandbox" {
			t.sandbox = true
			t.pod = a["io.kubernetes.cri.sandbox-namespace"] + "/" + a["io.kubernetes.cri.sandbox-name"]
		}
	}
	states, _ := filepath.Glob(filepath.Join(paths.RuncRoot, "*", "*", "state.json"))
	for _, f := range states {
		var st struct {
			InitProcessPid int `json:"init_process_pid"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &st) != nil {
			continue
		}
		t := get(filepath.Base(filepath.Dir(f)))
		if st.InitProcessPid > 1 && alive(st.InitProcessPid) {
			t.initPID = st.InitProcessPid
		}
	}
	out := make([]task, 0, len(byID))
	for _, t := range byID {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// runningPods names the pods whose sandbox still runs.
func (rt runtime) runningPods() []string {
	var pods []string
	for _, t := range rt.tasks {
		if t.sandbox && t.initPID > 0 {
			pods = append(pods, t.pod)
		}
	}
	sort.Strings(pods)
	return pods
}

// StopContainerd stops the containerd supervised for dataDir if it still
// runs (SIGTERM, then SIGKILL after timeout), as its agent does when it stops,
// and returns the pids it stopped. The shims, and so the pods, keep running.
// A node that exits before its agent has finished stopping the runtime calls
// it so that only the pods stay behind.
func StopContainerd(dataDir string, timeout time.Duration) ([]int, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	config := containerd.PathsFor(abs).Config
	var stopped []int
	var errs []error
	for _, p := range processes() {
		if p.pid == os.Getpid() || !isContainerd(p, config) {
			continue
		}
		if err := terminate(p.pid, timeout); err != nil {
			errs = append(errs, fmt.Errorf("stopping containerd (pid %d): %w", p.pid, err))
			continue
		}
		stopped = append(stopped, p.pid)
	}
	sort.Ints(stopped)
	return stopped, errors.Join(errs...)
}
