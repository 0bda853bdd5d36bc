// Package scripts tests the shell scripts `make run`, `make test` and CI use,
// and that the README, the Makefile and .ci/run agree with them.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeMachine is a PATH of stub programs and a root for the absolute paths
// deps.sh looks at.
type fakeMachine struct {
	t         *testing.T
	bin, root string
	aptLog    string
}

func newFakeMachine(t *testing.T) *fakeMachine {
	dir := t.TempDir()
	m := &fakeMachine{t: t, bin: filepath.Join(dir, "bin"), root: filepath.Join(dir, "root"), aptLog: filepath.Join(dir, "apt.log")}
	for _, d := range []string{m.bin, m.root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// add makes programs: names on PATH, absolute paths under the root.
func (m *fakeMachine) add(programs ...string) *fakeMachine {
	for _, p := range programs {
		m.script(p, "exit 0")
	}
	return m
}

func (m *fakeMachine) script(program, body string) {
	path := filepath.Join(m.bin, program)
	if filepath.IsAbs(program) {
		path = filepath.Join(m.root, program)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		m.t.Fatal(err)
	}
}

// everything is a machine with every program both modes look for.
func (m *fakeMachine) everything() *fakeMachine {
	return m.add("containerd", "containerd-shim-runc-v2", "ctr", "runc", "/usr/lib/cni/bridge", "iptables", "ip", "nft",
		"nsenter", "modprobe", "make", "curl", "kubectl", "go", "/usr/bin/python3", "/bin/busybox", "/usr/bin/chromium")
}

func (m *fakeMachine) remove(programs ...string) *fakeMachine {
	for _, p := range programs {
		path := filepath.Join(m.bin, p)
		if filepath.IsAbs(p) {
			path = filepath.Join(m.root, p)
		}
		if err := os.Remove(path); err != nil {
			m.t.Fatal(err)
		}
	}
	return m
}

// deps runs scripts/deps.sh on the fake machine as user euid.
func (m *fakeMachine) deps(euid string, args ...string) (string, int) {
	m.t.Helper()
	cmd := exec.Command("/bin/bash", append([]string{"deps.sh"}, args...)...)
	cmd.Env = []string{"PATH=" + m.bin, "SKIFF_DEPS_ROOT=" + m.root, "SKIFF_DEPS_EUID=" + euid, "APT_LOG=" + m.aptLog, "TMPDIR=" + filepath.Dir(m.aptLog)}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			m.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func mustContain(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// TestDepsDecides: what deps.sh installs, says and exits with, on machines
// that lack various things.
func TestDepsDecides(t *testing.T) {
	t.Run("nothing missing", func(t *testing.T) {
		m := newFakeMachine(t).everything()
		for _, mode := range []string{"run", "test"} {
			out, code := m.deps("0", mode)
			if code != 0 || out != "deps: every package '"+mode+"' needs is installed\n" {
				t.Errorf("%s: exit %d:\n%s", mode, code, out)
			}
		}
	})
	t.Run("dry run names each package once", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("containerd", "ctr", "nft", "/usr/lib/cni/bridge")
		out, code := m.deps("0", "--dry-run", "run")
		if code != 1 {
			t.Errorf("exit %d, want 1 (something is missing)", code)
		}
		mustContain(t, "dry run", out, "deps: would run: apt-get update && apt-get install -y containerd containernetworking-plugins nftables\n",
			"  containerd: the container runtime the node agent supervises\n")
		if strings.Count(out, "  containerd:") != 1 {
			t.Errorf("containerd named more than once:\n%s", out)
		}
	})
	t.Run("root installs with apt-get", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("runc", "curl")
		m.script("apt-get", `echo "$@" >> "$APT_LOG"; echo "Setting up something"`)
		out, code := m.deps("0", "test")
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, out)
		}
		mustContain(t, "install", out, "deps: installing runc curl (apt-get update, then apt-get install", "deps: installed runc curl\n")
		if strings.Contains(out, "Setting up") {
			t.Errorf("apt-get's own output was shown though it succeeded:\n%s", out)
		}
		log, _ := os.ReadFile(m.aptLog)
		if want := "-o DPkg::Lock::Timeout=600 update -qq\n-o DPkg::Lock::Timeout=600 install -y -qq runc curl\n"; string(log) != want {
			t.Errorf("apt-get ran with:\n%s\nwant:\n%s", log, want)
		}
	})
	t.Run("not root says what to run", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("runc").add("apt-get")
		out, code := m.deps("1000", "run")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		mustContain(t, "not root", out, "deps:   sudo apt-get update && sudo apt-get install -y runc\n")
	})
	t.Run("not root is fine for make test", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("curl").add("apt-get")
		out, code := m.deps("1000", "--optional", "test")
		if code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		mustContain(t, "optional", out, "sudo apt-get install -y curl", "going on without them")
	})
	t.Run("make run needs root", func(t *testing.T) {
		m := newFakeMachine(t).everything()
		out, code := m.deps("1000", "run")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		mustContain(t, "user", out, "run it as root (sudo make run)")
	})
	t.Run("no apt-get", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("ip")
		out, code := m.deps("0", "run")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		mustContain(t, "no apt", out, "this system has no apt-get; install the equivalents of these Debian packages yourself:\ndeps:   iproute2\n")
	})
	t.Run("python3-kubernetes in Debian's python3", func(t *testing.T) {
		m := newFakeMachine(t).everything()
		m.script("/usr/bin/python3", "exit 1") // no kubernetes module
		m.add("python3")                       // another python3 on PATH does not count
		out, _ := m.deps("0", "--dry-run", "test")
		mustContain(t, "module", out, "apt-get install -y python3-kubernetes\n")
		m.remove("/usr/bin/python3")
		out, _ = m.deps("0", "--dry-run", "test")
		mustContain(t, "no python3", out, "apt-get install -y python3 python3-kubernetes\n")
	})
	t.Run("Go and kubectl are not Debian packages", func(t *testing.T) {
		m := newFakeMachine(t).everything().remove("go", "kubectl")
		out, code := m.deps("0", "test")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		mustContain(t, "go", out, "deps: Go is not installed", "https://go.dev/dl/", "deps: kubectl is not installed")
		m.add("/usr/local/go/bin/go")
		out, code = m.deps("0", "run")
		if code != 0 || strings.Contains(out, "Go is not installed") {
			t.Errorf("with Go in /usr/local/go only: exit %d:\n%s", code, out)
		}
	})
}

// TestBuildWithoutGo: the build says how to get Go instead of failing with
// "command not found".
func TestBuildWithoutGo(t *testing.T) {
	cmd := exec.Command("/bin/bash", "build.sh", "-o", "/nonexistent", "./cmd/skiff")
	cmd.Env = []string{"PATH=" + t.TempDir(), "GO=go"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "build: Go is not installed") || !strings.Contains(string(out), "https://go.dev/dl/") {
		t.Errorf("build.sh without Go: %v:\n%s", err, out)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeMakefileAndCIAgree: the README's set-up is `make run` and
// `make test`, which (and CI) install through deps.sh; the packages the
// README names are the ones deps.sh installs; killall and uninstall are
// documented and have make targets.
func TestReadmeMakefileAndCIAgree(t *testing.T) {
	readme := read(t, "../README.md")
	makefile := read(t, "../Makefile")
	ci := read(t, "../.ci/run")

	setup := readme[strings.Index(readme, "## Set up"):strings.Index(readme, "## A walk through the seed")]
	if strings.Contains(setup, "apt-get install") {
		t.Error("the README's set-up still asks for an apt-get install by hand")
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(setup, -1)
	var commands []string
	for _, b := range blocks {
		for _, line := range strings.Split(strings.TrimSpace(b[1]), "\n") {
			if f := strings.Fields(strings.SplitN(line, "#", 2)[0]); len(f) > 0 {
				commands = append(commands, strings.Join(f, " "))
			}
		}
	}
	if got := strings.Join(commands, "; "); got != "make run; bin/skiff killall; bin/skiff uninstall; make test" {
		t.Errorf("the README's set-up commands are %q", got)
	}

	targets := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z]+):[^\n]*\n((?:\t[^\n]*\n)*)`).FindAllStringSubmatch(makefile, -1) {
		targets[m[1]] = m[2]
	}
	for target, want := range map[string]string{
		"run":       "scripts/deps.sh run",
		"test":      "scripts/deps.sh --optional test",
		"build":     "scripts/build.sh",
		"killall":   "$(BIN) killall --data-dir $(DATA_DIR)",
		"uninstall": "$(BIN) uninstall --data-dir $(DATA_DIR)",
	} {
		if !strings.Contains(targets[target], want) {
			t.Errorf("make %s does not run %q:\n%s", target, want, targets[target])
		}
	}
	if !strings.Contains(ci, "\nscripts/deps.sh test\n") || !strings.HasSuffix(strings.TrimSpace(ci), "make test") {
		t.Errorf(".ci/run must install through scripts/deps.sh test and end with make test:\n%s", ci)
	}

	// Every package `make run` may install is named in the README.
	m := newFakeMachine(t)
	out, _ := m.deps("0", "--dry-run", "run")
	i := strings.Index(out, "apt-get install -y ")
	if i < 0 {
		t.Fatalf("deps.sh --dry-run on an empty machine:\n%s", out)
	}
	for _, pkg := range strings.Fields(out[i+len("apt-get install -y "):]) {
		if !strings.Contains(setup, pkg) {
			t.Errorf("deps.sh installs %s for make run, which the README's set-up does not name", pkg)
		}
	}
}
