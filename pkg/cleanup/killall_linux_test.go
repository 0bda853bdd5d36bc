package cleanup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/agent/agenttest"
	"github.com/skiffhq/skiff/pkg/agent/containerd"
)

// requireNode skips unless the test can build a fake node: root, iproute2,
// util-linux, iptables, nftables and the CNI plugins.
func requireNode(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("killall test: needs root (it builds a node's leftovers in network namespaces it creates)")
	}
	for bin, pkg := range map[string]string{"ip": "iproute2", "nsenter": "util-linux", "iptables": "iptables", "nft": "nftables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("killall test: needs %s (apt-get install %s)", bin, pkg)
		}
	}
	if _, err := os.Stat(filepath.Join(containerd.DefaultCNIBinDir, "portmap")); err != nil {
		t.Skip("killall test: needs the CNI plugins (apt-get install containernetworking-plugins)")
	}
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNS runs a command in the network namespace at path.
func inNS(t *testing.T, path string, args ...string) string {
	t.Helper()
	return run(t, "nsenter", append([]string{"--net=" + path, "--"}, args...)...)
}

// podNetNS creates a pinned network namespace as the CRI plugin does
// (/run/netns/cni-...), removed at the end if killall has not.
func podNetNS(t *testing.T, prefix string) string {
	t.Helper()
	name := randomName(prefix)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	return "/run/netns/" + name
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cniAdd attaches the pod namespace to the node's network the way the
// runtime does: the conflist the agent wrote, its plugins run in order inside
// the node's namespace, the portmap plugin with one hostPort.
func cniAdd(t *testing.T, nodeNS, podNS, dataDir, id string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(agent.CNIConfDir(dataDir), agent.CNIConfFile))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var prev json.RawMessage
	for _, p := range list.Plugins {
		p["cniVersion"], p["name"] = list.CNIVersion, list.Name
		if prev != nil {
			p["prevResult"] = prev
		}
		if p["type"] == "portmap" {
			p["runtimeConfig"] = map[string]any{"portMappings": []map[string]any{{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}}}
		}
		conf, _ := json.Marshal(p)
		cmd := exec.Command("nsenter", "--net="+nodeNS, "--", filepath.Join(containerd.DefaultCNIBinDir, p["type"].(string)))
		cmd.Env = append(os.Environ(), "CNI_COMMAND=ADD", "CNI_CONTAINERID="+id, "CNI_NETNS="+podNS, "CNI_IFNAME=eth0", "CNI_PATH="+containerd.DefaultCNIBinDir)
		cmd.Stdin = bytes.NewReader(conf)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("CNI ADD with %s: %v\n%s", p["type"], err, out)
		}
		prev = out
	}
}

func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

func mounted(dir string) bool {
	for _, m := range containerd.MountsUnder(dir) {
		if m == dir {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fakeNode is the state a Skiff node leaves behind when its server stops with
// one pod running, built without containerd: the runtime's state files, a
// supervised containerd and a shim (this test binary under their names) with
// container processes, the pod's network namespaces, cgroups and mounts, and
// in the node's namespace the bridge, veth, address lease and hostPort rules
// of a real CNI ADD, a podnet route, a VXLAN device, the proxy's table and
// load balancer interface.
type fakeNode struct {
	dataDir, nodeNS, cgroupRoot string
	sandbox, container          string // task IDs
	podNSByBundle, podNSByInode string
	containerd, shim            *exec.Cmd
	procs                       []int // the containers' processes
	cgroup                      string
	rootfs                      string
	vxlan                       bool // the kernel could make a VXLAN device
}

func newFakeNode(t *testing.T, nodeNS string) *fakeNode {
	t.Helper()
	n := &fakeNode{
		dataDir:    agenttest.DataDir(t),
		nodeNS:     nodeNS,
		cgroupRoot: "/" + randomName("skiff-cleanup-test-"),
		sandbox:    strings.Repeat("a", 56) + randomName(""),
		container:  strings.Repeat("c", 56) + randomName(""),
	}
	t.Cleanup(func() { _ = containerd.RemoveCgroups(n.cgroupRoot) })
	paths := containerd.PathsFor(n.dataDir)
	if err := os.MkdirAll(filepath.Join(n.dataDir, "server"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := agent.WriteCNIConfig(agent.CNIConfDir(n.dataDir), agent.CNIIPAMDir(n.dataDir), "10.42.7.0/24", 0); err != nil {
		t.Fatal(err)
	}

	// The sandbox: its spec names its pinned network namespace and cgroup.
	n.podNSByBundle = podNetNS(t, "cni-test-")
	n.cgroup = n.cgroupRoot + "/podu1/" + n.sandbox
	writeJSON(t, filepath.Join(paths.State, taskDir, "k8s.io", n.sandbox, "config.json"), map[string]any{
		"annotations": map[string]string{
			"io.kubernetes.cri.container-type":        "sandbox",
			"io.kubernetes.cri.sandbox-name":          "fake",
			"io.kubernetes.cri.sandbox-namespace":     "default",
			"io.kubernetes.cri.sandbox-id":            n.sandbox,
			"io.kubernetes.cri.sandbox-log-directory": "/dev/null",
		},
		"linux": map[string]any{
			"cgroupsPath": n.cgroup,
			"namespaces":  []map[string]string{{"type": "pid"}, {"type": "network", "path": n.podNSByBundle}},
		},
	})
	cniAdd(t, nodeNS, n.podNSByBundle, n.dataDir, n.sandbox)
	n.rootfs = filepath.Join(paths.State, taskDir, "k8s.io", n.sandbox, "rootfs")
	mountTmpfs(t, n.rootfs)

	// containerd and a shim with a container under it.
	n.containerd = startHelper(t, helper("sleep", containerd.DefaultBinary, "--config", paths.Config))
	if err := os.WriteFile(paths.PIDFile, []byte(strconv.Itoa(n.containerd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	n.shim = helper("shim", "/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", n.sandbox, "-address", paths.Socket)
	out, _ := n.shim.StdoutPipe()
	startHelper(t, n.shim)
	line, _ := bufio.NewReader(out).ReadString('\n')
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the fake shim's child: %q", line)
	}
	n.procs = append(n.procs, child)
	t.Cleanup(func() { _ = unix.Kill(child, unix.SIGKILL) })
	// The child is the sandbox's init (the pause process).
	writeJSON(t, filepath.Join(paths.RuncRoot, "k8s.io", n.sandbox, "state.json"), map[string]any{"init_process_pid": child})

	// A container whose init runc knows, in a namespace no spec names: it
	// is found by its namespace.
	n.podNSByInode = podNetNS(t, "cni-test-")
	initProc := exec.Command("nsenter", "--net="+n.podNSByInode, "--", self(), "init")
	initProc.Env = append(os.Environ(), helperEnv+"=sleep")
	startHelper(t, initProc)
	n.procs = append(n.procs, initProc.Process.Pid)
	writeJSON(t, filepath.Join(paths.RuncRoot, "k8s.io", n.container, "state.json"), map[string]any{"init_process_pid": initProc.Process.Pid})

	// A process that only the sandbox's cgroup holds (a shim that died left it).
	stray := startHelper(t, helper("sleep", "stray"))
	n.procs = append(n.procs, stray.Process.Pid)
	for _, m := range containerd.CgroupMounts() {
		dir := filepath.Join(m, n.cgroup)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(containerd.CgroupMounts()[0], n.cgroup, "cgroup.procs"), []byte(strconv.Itoa(stray.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}

	// The rest of the node's network.
	inNS(t, nodeNS, "ip", "route", "add", "10.42.9.0/24", "via", "10.42.7.9", "proto", strconv.Itoa(podnetProto))
	if out, err := exec.Command("nsenter", "--net="+nodeNS, "--", "ip", "link", "add", "skiff.vxlan", "type", "vxlan", "id", "1", "dstport", "8472", "nolearning").CombinedOutput(); err != nil {
		t.Logf("no VXLAN device in this test (%v: %s)", err, out)
	} else {
		n.vxlan = true
	}
	if exec.Command("nsenter", "--net="+nodeNS, "--", "ip", "link", "add", "skiff-lb", "type", "dummy").Run() != nil {
		inNS(t, nodeNS, "ip", "link", "add", "skiff-lb", "type", "bridge")
	}
	inNS(t, nodeNS, "nft", "add", "table", "ip", "skiff-proxy")
	inNS(t, nodeNS, "nft", "add", "chain", "ip", "skiff-proxy", "services")
	return n
}

// podnetProto is podnet.RouteProtocol, spelled out: the test checks the
// number `ip route` shows.
const podnetProto = 83

// bystanders are things like the node's that another containerd, another
// node, or someone else made: killall must leave every one alone.
type bystanders struct {
	dataDir          string
	containerd, shim *exec.Cmd
	podNS            string
	mount            string
}

func newBystanders(t *testing.T, nodeNS string) *bystanders {
	t.Helper()
	b := &bystanders{dataDir: agenttest.DataDir(t)}
	paths := containerd.PathsFor(b.dataDir)
	b.containerd = startHelper(t, helper("sleep", containerd.DefaultBinary, "--config", paths.Config))
	b.shim = helper("shim", "/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "x", "-address", paths.Socket)
	out, _ := b.shim.StdoutPipe()
	startHelper(t, b.shim)
	line, _ := bufio.NewReader(out).ReadString('\n')
	if child, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
		t.Cleanup(func() { _ = unix.Kill(child, unix.SIGKILL) })
	}
	b.podNS = podNetNS(t, "cni-keep-")
	b.mount = filepath.Join(paths.State, taskDir, "k8s.io", "x", "rootfs")
	mountTmpfs(t, b.mount)
	inNS(t, nodeNS, "ip", "link", "add", "keep0", "type", "bridge")
	inNS(t, nodeNS, "ip", "addr", "add", "10.77.0.1/24", "dev", "keep0")
	inNS(t, nodeNS, "ip", "link", "set", "keep0", "up")
	inNS(t, nodeNS, "ip", "route", "add", "10.78.0.0/24", "via", "10.77.0.2")
	inNS(t, nodeNS, "nft", "add", "table", "ip", "keep-me")
	inNS(t, nodeNS, "iptables", "-t", "nat", "-N", "KEEP-ME")
	return b
}

func (b *bystanders) check(t *testing.T, nodeNS string) {
	t.Helper()
	for what, cmd := range map[string]*exec.Cmd{"containerd": b.containerd, "shim": b.shim} {
		if !alive(cmd.Process.Pid) {
			t.Errorf("killall stopped another data directory's %s", what)
		}
	}
	if !exists(b.podNS) {
		t.Errorf("killall removed %s, a network namespace not its node's", b.podNS)
	}
	if !mounted(b.mount) {
		t.Errorf("killall unmounted %s, under another data directory", b.mount)
	}
	if links := inNS(t, nodeNS, "ip", "-o", "link"); !strings.Contains(links, "keep0") {
		t.Errorf("killall deleted an interface it did not make:\n%s", links)
	}
	if routes := inNS(t, nodeNS, "ip", "route"); !strings.Contains(routes, "10.78.0.0/24 via 10.77.0.2") {
		t.Errorf("killall deleted a route it did not make:\n%s", routes)
	}
	if tables := inNS(t, nodeNS, "nft", "list", "tables"); !strings.Contains(tables, "table ip keep-me") {
		t.Errorf("killall deleted an nftables table it did not make:\n%s", tables)
	}
	if nat := inNS(t, nodeNS, "iptables", "-t", "nat", "-S"); !strings.Contains(nat, "-N KEEP-ME") {
		t.Errorf("killall deleted an iptables chain it did not make:\n%s", nat)
	}
}

// TestKillall builds what a node leaves running (and things like it that are
// not its own), surveys it, runs killall, and checks that exactly the node's
// leftovers are gone; a second run finds nothing; uninstall then removes the
// data directory.
func TestKillall(t *testing.T) {
	requireNode(t)
	nodeNS := agenttest.NewNetNS(t).Path
	n := newFakeNode(t, nodeNS)
	others := newBystanders(t, nodeNS)
	if nat := inNS(t, nodeNS, "iptables", "-t", "nat", "-S"); !strings.Contains(nat, n.sandbox) {
		t.Fatalf("the portmap plugin made no rule for the sandbox:\n%s", nat)
	}
	opts := Options{DataDir: n.dataDir, NetNS: nodeNS, CgroupRoot: n.cgroupRoot}
	cniCacheDir = t.TempDir()
	t.Cleanup(func() { cniCacheDir = "/var/lib/cni" })
	cached := []string{
		filepath.Join(cniCacheDir, "results", "skiff-"+n.sandbox+"-eth0"),
		filepath.Join(cniCacheDir, "results", "cni-loopback-"+n.sandbox+"-lo"),
	}
	otherCached := filepath.Join(cniCacheDir, "results", "skiff-"+strings.Repeat("b", 64)+"-eth0")
	for _, f := range append(cached, otherCached) {
		writeJSON(t, f, map[string]string{"kind": "cniCacheV1"})
	}

	// What a stopping server would report.
	left, err := Survey(n.dataDir, nodeNS)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Containerd) != 1 || left.Containerd[0] != n.containerd.Process.Pid || left.Shims != 1 || left.Containers != 3 || left.NetNS != 2 ||
		strings.Join(left.Pods, ",") != "default/fake" {
		t.Errorf("survey: %+v; want containerd %d, 1 shim, 3 container processes, 2 network namespaces, pod default/fake", left, n.containerd.Process.Pid)
	}
	note := left.Note("bin/skiff", n.dataDir)
	vxlan := ""
	if n.vxlan {
		vxlan = "VXLAN device skiff.vxlan, "
	}
	for _, want := range []string{
		"Still running on purpose, so that the next start adopts the pods instead of restarting them",
		"1 pod(s) (default/fake): 3 container process(es) under 1 containerd shim(s), in 2 network namespace(s)",
		"the node's network: bridge skiff0, " + vxlan + "load balancer interface skiff-lb, 1 route(s) to other nodes' pods, nftables table ip skiff-proxy",
		"bin/skiff killall --data-dir " + n.dataDir,
	} {
		if !strings.Contains(note, want) {
			t.Errorf("the stop note lacks %q:\n%s", want, note)
		}
	}

	var out bytes.Buffer
	opts.Out = &out
	if err := Killall(context.Background(), opts); err != nil {
		t.Fatalf("killall: %v\n%s", err, out.String())
	}
	t.Logf("killall:\n%s", out.String())
	paths := containerd.PathsFor(n.dataDir)
	for _, want := range []string{
		fmt.Sprintf("stopped containerd (pid %d)\n", n.containerd.Process.Pid),
		"killed 1 containerd shim(s) and 3 container process(es) of 1 pod(s): default/fake\n",
		"removed network namespace " + n.podNSByBundle + "\n",
		"removed network namespace " + n.podNSByInode + "\n",
		"removed " + cached[0] + "\n",
		"removed " + cached[1] + "\n",
		"deleted iptables chain nat CNI-DN-",
		"deleted 1 hostPort rule(s) of the CNI portmap plugin\n",
		"deleted route 10.42.9.0/24 via 10.42.7.9 dev skiff0\n",
		"deleted bridge skiff0\n",
		"deleted load balancer interface skiff-lb\n",
		"deleted nftables table ip skiff-proxy\n",
		"released pod address(es) 10.42.7.2 (" + filepath.Join(agent.CNIIPAMDir(n.dataDir), "skiff") + ")\n",
		"removed cgroup " + n.cgroup + "\n",
		"removed cgroup " + filepath.Dir(n.cgroup) + "\n",
		"unmounted " + n.rootfs + "\n",
		"removed " + paths.State + " (the runtime's state of the stopped containers)\n",
		"removed " + paths.RuncRoot + " (the runtime's state of the stopped containers)\n",
		"The Skiff node in " + n.dataDir + " is stopped; its data is kept",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("killall did not say %q", want)
		}
	}
	if n.vxlan && !strings.Contains(out.String(), "deleted VXLAN device skiff.vxlan\n") {
		t.Error("killall did not say it deleted the VXLAN device")
	}

	// Gone: the processes, namespaces, mounts, cgroups and network.
	for _, pid := range append([]int{n.containerd.Process.Pid, n.shim.Process.Pid}, n.procs...) {
		if alive(pid) {
			t.Errorf("process %d (%s) still runs", pid, strings.Join(cmdline(pid), " "))
		}
	}
	if !exists(otherCached) {
		t.Errorf("killall removed %s, another sandbox's", otherCached)
	}
	for _, p := range append([]string{n.podNSByBundle, n.podNSByInode, paths.State, paths.RuncRoot, paths.PIDFile}, cached...) {
		if exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
	if mounted(n.rootfs) {
		t.Errorf("%s is still mounted", n.rootfs)
	}
	for _, m := range containerd.CgroupMounts() {
		if exists(filepath.Join(m, filepath.Dir(n.cgroup))) {
			t.Errorf("cgroup %s is still there", filepath.Join(m, filepath.Dir(n.cgroup)))
		}
	}
	links := inNS(t, nodeNS, "ip", "-o", "link")
	for _, name := range []string{"skiff0", "skiff-lb", "skiff.vxlan", "veth"} {
		if strings.Contains(links, name) {
			t.Errorf("interface %s is still there:\n%s", name, links)
		}
	}
	if routes := inNS(t, nodeNS, "ip", "route", "show", "proto", strconv.Itoa(podnetProto)); strings.TrimSpace(routes) != "" {
		t.Errorf("podnet's routes are still there:\n%s", routes)
	}
	if tables := inNS(t, nodeNS, "nft", "list", "tables"); strings.Contains(tables, "skiff-proxy") {
		t.Errorf("the proxy's table is still there:\n%s", tables)
	}
	if nat := inNS(t, nodeNS, "iptables", "-t", "nat", "-S"); strings.Contains(nat, n.sandbox) || strings.Contains(nat, "CNI-DN-") {
		t.Errorf("the pod's hostPort rules are still there:\n%s", nat)
	}
	// Kept: the data, and everything that is not the node's.
	for _, p := range []string{filepath.Join(agent.CNIConfDir(n.dataDir), agent.CNIConfFile), filepath.Join(n.dataDir, "server")} {
		if !exists(p) {
			t.Errorf("killall removed %s, which is data", p)
		}
	}
	others.check(t, nodeNS)

	// Again: nothing to do.
	out.Reset()
	if err := Killall(context.Background(), opts); err != nil {
		t.Fatalf("second killall: %v\n%s", err, out.String())
	}
	if want := "Nothing of the Skiff node in " + n.dataDir + " is running or left behind.\n"; out.String() != want {
		t.Errorf("second killall printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if left, err := Survey(n.dataDir, nodeNS); err != nil || !left.Empty() {
		t.Errorf("survey after killall: %+v, %v", left, err)
	}

	out.Reset()
	if err := Uninstall(context.Background(), opts); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out.String())
	}
	if exists(n.dataDir) {
		t.Errorf("uninstall left %s", n.dataDir)
	}
	if !strings.Contains(out.String(), "removed cgroup "+n.cgroupRoot+"\n") {
		t.Errorf("uninstall did not remove the empty cgroup root:\n%s", out.String())
	}
	others.check(t, nodeNS)
}

// TestKillallLeavesAnotherNodesNetwork: the node's network namespace may hold
// another node's network (a bridge on another pod CIDR, or another running
// node sharing the namespace): killall stops its own node's processes but
// removes none of that network, and says why.
func TestKillallLeavesAnotherNodesNetwork(t *testing.T) {
	requireNode(t)
	nodeNS := agenttest.NewNetNS(t).Path
	dir := agenttest.DataDir(t)
	if err := agent.WriteCNIConfig(agent.CNIConfDir(dir), agent.CNIIPAMDir(dir), "10.42.7.0/24", 0); err != nil {
		t.Fatal(err)
	}
	inNS(t, nodeNS, "nft", "add", "table", "ip", "skiff-proxy")
	inNS(t, nodeNS, "ip", "link", "add", "skiff0", "type", "bridge")
	inNS(t, nodeNS, "ip", "addr", "add", "10.42.99.1/24", "dev", "skiff0")
	opts := Options{DataDir: dir, NetNS: nodeNS}
	killall := func() string {
		t.Helper()
		var out bytes.Buffer
		opts.Out = &out
		if err := Killall(context.Background(), opts); err != nil {
			t.Fatalf("killall: %v\n%s", err, out.String())
		}
		return out.String()
	}
	intact := func() {
		t.Helper()
		if links := inNS(t, nodeNS, "ip", "-o", "link"); !strings.Contains(links, "skiff0") {
			t.Errorf("killall deleted another node's bridge")
		}
		if tables := inNS(t, nodeNS, "nft", "list", "tables"); !strings.Contains(tables, "skiff-proxy") {
			t.Errorf("killall deleted another node's table")
		}
	}
	want := "left the node network (bridge skiff0, nftables table ip skiff-proxy) alone: bridge skiff0 has 10.42.99.1/24, which is not in this node's pod CIDR 10.42.7.0/24: it is another Skiff node's\n"
	if out := killall(); !strings.Contains(out, want) {
		t.Errorf("killall printed:\n%s\nwant it to say:\n%s", out, want)
	}
	intact()

	// The bridge is on this node's CIDR, but another node runs in the
	// namespace.
	inNS(t, nodeNS, "ip", "addr", "flush", "dev", "skiff0")
	inNS(t, nodeNS, "ip", "addr", "add", "10.42.7.1/24", "dev", "skiff0")
	other := agenttest.DataDir(t)
	node := &exec.Cmd{Path: "/usr/bin/nsenter", Args: []string{"nsenter", "--net=" + nodeNS, "--", self(), "lock", other},
		Env: append(os.Environ(), helperEnv+"=lock")}
	stdout, _ := node.StdoutPipe()
	startHelper(t, node)
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("the other node did not start: %q", line)
	}
	want = fmt.Sprintf("alone: %s (pid %d, data directory %s) runs in the same network namespace\n", filepath.Base(self())+" lock", node.Process.Pid, other)
	if out := killall(); !strings.Contains(out, want) {
		t.Errorf("killall printed:\n%s\nwant it to say:\n%s", out, want)
	}
	intact()
	_ = node.Process.Kill()
	_ = node.Wait()

	// Alone in the namespace, on its own CIDR: the network is this node's.
	if out := killall(); !strings.Contains(out, "deleted bridge skiff0\n") || !strings.Contains(out, "deleted nftables table ip skiff-proxy\n") {
		t.Errorf("killall of the node's own network printed:\n%s", out)
	}
}
