package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds the skiff binary once per test process and returns its path:
// bin/skiff-test in the repository (ignored by git), replaced atomically so
// test processes running side by side never see half a file, and overwritten
// by the next run instead of piling up in the temp dir.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		binDir := filepath.Join(root, "bin")
		if buildErr = os.MkdirAll(binDir, 0o755); buildErr != nil {
			return
		}
		tmp := filepath.Join(binDir, fmt.Sprintf(".skiff-test-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/skiff")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as `make build`
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = filepath.Join(binDir, "skiff-test")
		if err := os.Rename(tmp, binPath); err != nil {
			_ = os.Remove(tmp)
			buildErr = err
		}
	})
	if buildErr != nil {
		t.Fatalf("building skiff: %v", buildErr)
	}
	return binPath
}

// Process is a `skiff server` running as its own process.
type Process struct {
	Cmd        *exec.Cmd
	DataDir    string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
}

// StartProcess runs `skiff server` on a free loopback port with the given extra
// flags, waits for its ready line, and kills it when the test ends.
func StartProcess(t testing.TB, dataDir string, extra ...string) *Process {
	t.Helper()
	bin := Binary(t)
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	port := freePort(t)
	args := append([]string{"server", "--data-dir", dataDir, "--bind-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(port), "--disable-agent"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dataDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting skiff server: %v", err)
	}
	p := &Process{Cmd: cmd, DataDir: dataDir, Kubeconfig: filepath.Join(dataDir, "kubeconfig.yaml")}
	t.Cleanup(func() { p.Kill(); logFile.Close() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Skiff is ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		log, _ := os.ReadFile(filepath.Join(dataDir, "server.log"))
		t.Fatalf("skiff server not ready after 30s; log:\n%s", log)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	p.Config = cfg
	if p.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return p
}

// Kill stops the server with SIGKILL (a crash) and waits for it.
func (p *Process) Kill() {
	if p.Cmd.ProcessState == nil && p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
		_ = p.Cmd.Wait()
	}
}

// Memory is the server's resident memory, split into what the process
// allocated (Anon: heap, stacks) and the file pages it has mapped: its own
// binary's (clean pages the kernel maps in whole folios, shared with every
// process running the binary) and the database file's (bbolt reads through
// mmap).
type Memory struct {
	RSS, Anon, Binary, Database int64
}

// Memory reads the server's resident memory from /proc/PID/smaps.
func (p *Process) Memory(t testing.TB) Memory {
	t.Helper()
	pid := p.Cmd.Process.Pid
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatalf("reading server binary: %v", err)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatalf("reading server memory: %v", err)
	}
	var m Memory
	var file string // the file of the mapping being read, "" for anonymous
	var rss int64   // the mapping's Rss, until its Anonymous line tells the file's share
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header: range perms offset dev inode [path]
			file = ""
			if len(f) >= 6 {
				file = f[5]
			}
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb * 1024
			m.RSS += rss
		case "Anonymous:":
			// Pages of the binary's data that the process wrote are anonymous.
			anon := kb * 1024
			m.Anon += anon
			switch {
			case file == exe:
				m.Binary += rss - anon
			case strings.HasSuffix(file, "/state.db"):
				m.Database += rss - anon
			}
		}
	}
	return m
}
