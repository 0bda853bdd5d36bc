// Package harness starts Skiff control planes inside a test process and finds the
// real kubectl binaries installed on the machine. It is for tests only: it must
// not be imported by the skiff binary.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/server"
	"github.com/skiffhq/skiff/pkg/storage"
)

// Cluster is a control plane started for one test.
type Cluster struct {
	Server     *server.Server
	Kubeconfig string
	DataDir    string
	Port       int
	Config     *rest.Config
	Client     kubernetes.Interface
	// Stop stops the server before the test ends (it is stopped then anyway).
	Stop func()
}

// Options tune a test cluster.
type Options struct {
	// Storage replaces the bolt file (e.g. memory.New()).
	Storage storage.Backend
	// HollowNodes starts that many in-memory nodes inside the server.
	HollowNodes int
	// NodeMonitorGracePeriod shortens node-loss detection (default 40s).
	NodeMonitorGracePeriod time.Duration
	// PodGCQuarantine shortens how long a Node must be gone before its pods
	// are collected (default 40s).
	PodGCQuarantine time.Duration
	// TolerationSeconds sets the default not-ready/unreachable tolerations.
	TolerationSeconds int64
	// DisableControllers starts the API server without its control loops.
	DisableControllers bool
	// WatchHistory bounds the watch history (to provoke 410 Gone).
	WatchHistory int
	// ServerName and AdvertiseIP name a server among several that share
	// Storage (and a DataDir, so that they share the cluster's keys); with
	// AdvertiseIP the kubernetes Service's endpoints list the server.
	ServerName, AdvertiseIP string
	// Datastore keeps the state in an etcd instead (see server.Datastore).
	Datastore server.Datastore
	// ClusterInit and JoinServer run an etcd member in the server (a new
	// cluster, or joining the server at that URL with Token) on these
	// loopback ports.
	ClusterInit                  bool
	JoinServer                   string
	EtcdClientPort, EtcdPeerPort int
	// EtcdAdvertiseIP is where the member is reached (default loopback
	// with ClusterInit or JoinServer).
	EtcdAdvertiseIP string
	// Token is the join token of the cluster whose Storage the server
	// shares (see server.Config.Token).
	Token string
	// LeaderElection shortens the control loops' election.
	LeaderElection server.LeaderElection
	// DataDir reuses a data directory (restart tests); default a fresh temp dir.
	DataDir string
	// Port serves on this loopback port (a restart at the same address);
	// default a free one.
	Port int
	// Disable turns packaged components off (--disable).
	Disable []string
}

// StartCluster starts a control plane on a free loopback port and stops it when
// the test ends.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := TryStartCluster(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TryStartCluster is StartCluster for a server that may fail to start: it
// says why.
func TryStartCluster(t testing.TB, opts Options) (*Cluster, error) {
	t.Helper()
	dir := opts.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	port := opts.Port
	if port == 0 {
		port = freePort(t)
	}
	srv, err := server.New(server.Config{
		DataDir:                dir,
		BindAddress:            "127.0.0.1",
		HTTPSPort:              port,
		DisableAgent:           true,
		Storage:                opts.Storage,
		WatchHistory:           opts.WatchHistory,
		DisableControllers:     opts.DisableControllers,
		HollowNodes:            opts.HollowNodes,
		NodeMonitorGracePeriod: opts.NodeMonitorGracePeriod,
		PodGCQuarantine:        opts.PodGCQuarantine,
		NotReadyToleration:     opts.TolerationSeconds,
		UnreachableToleration:  opts.TolerationSeconds,
		Disable:                opts.Disable,
		// As upstream's integration tests: without the service account
		// controller no pod would find its account.
		DisableAdmissionPlugins: disabledAdmission(opts),
		ServerName:              opts.ServerName,
		Token:                   opts.Token,
		Datastore:               opts.Datastore,
		ClusterInit:             opts.ClusterInit,
		JoinServer:              opts.JoinServer,
		EtcdClientPort:          opts.EtcdClientPort,
		EtcdPeerPort:            opts.EtcdPeerPort,
		EtcdAdvertiseIP:         etcdIP(opts),
		NodeIP:                  opts.AdvertiseIP,
		LeaderElection:          opts.LeaderElection,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = srv.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// What still runs, grouped by stack, says what holds it.
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("server did not stop within 10s; its goroutines:\n%s", stacks.String())
		}
	}
	t.Cleanup(stop)
	select {
	case <-srv.Ready():
	case <-done:
		return nil, fmt.Errorf("server failed to start: %w", runErr)
	case <-time.After(30 * time.Second):
		return nil, errors.New("server not ready after 30s")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Cluster{Server: srv, Kubeconfig: srv.Kubeconfig, DataDir: dir, Port: port, Config: cfg, Client: client, Stop: stop}, nil
}

// etcdIP: a member in a test listens on loopback.
func etcdIP(opts Options) string {
	if opts.EtcdAdvertiseIP != "" {
		return opts.EtcdAdvertiseIP
	}
	if opts.ClusterInit || opts.JoinServer != "" {
		return "127.0.0.1"
	}
	return ""
}

// FreePort picks a free loopback port.
func FreePort(t testing.TB) int { return freePort(t) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Kubectl is one kubectl binary.
type Kubectl struct {
	Path    string
	Version string // "1.27", ... or "skiff" for the built-in one
}

var versioned = regexp.MustCompile(`^kubectl\.(1\.\d+)$`)

// Kubectls finds the real kubectl binaries: kubectl.1.NN beside the binary that
// `kubectl` resolves to (the Google Cloud CLI layout). SKIFF_KUBECTLS=1.32,1.27
// restricts the set. It fails the test with a clear message when there are none.
func Kubectls(t testing.TB) []Kubectl {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("no kubectl on PATH: install the kubectl package (Google Cloud CLI component) to run the kubectl tests")
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	dir := filepath.Dir(real)
	entries, _ := os.ReadDir(dir)
	var out []Kubectl
	want := map[string]bool{}
	if v := os.Getenv("SKIFF_KUBECTLS"); v != "" {
		for _, s := range strings.Split(v, ",") {
			want[strings.TrimSpace(s)] = true
		}
	}
	for _, e := range entries {
		m := versioned.FindStringSubmatch(e.Name())
		if m == nil || (len(want) > 0 && !want[m[1]]) {
			continue
		}
		out = append(out, Kubectl{Path: filepath.Join(dir, e.Name()), Version: m[1]})
	}
	sort.Slice(out, func(i, j int) bool { return minor(out[i].Version) < minor(out[j].Version) })
	if len(out) == 0 {
		t.Logf("no versioned kubectl.1.NN beside %s; using %s alone", real, path)
		out = append(out, Kubectl{Path: path, Version: "default"})
	}
	return out
}

func minor(v string) int {
	var major, m int
	fmt.Sscanf(v, "%d.%d", &major, &m)
	return m
}

// Run runs kubectl against the cluster and returns stdout, stderr and the error.
func (c *Cluster) Run(k Kubectl, stdin string, args ...string) (string, string, error) {
	return c.RunEnv(k, nil, stdin, args...)
}

// RunEnv is Run with extra environment variables (KEY=value) for this command
// alone, so parallel tests never share them.
func (c *Cluster) RunEnv(k Kubectl, env []string, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Path, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "HOME="+c.DataDir), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// MustRun runs kubectl and fails the test on a non-zero exit.
func (c *Cluster) MustRun(t testing.TB, k Kubectl, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := c.Run(k, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s (%s): %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), k.Version, err, out, errOut)
	}
	return out
}

// BuiltinKubectl is the kubectl built into skiff, run through a link named
// kubectl (exactly what users get from `ln -s skiff kubectl`).
func BuiltinKubectl(t testing.TB) Kubectl {
	t.Helper()
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(Binary(t), link); err != nil {
		t.Fatal(err)
	}
	return Kubectl{Path: link, Version: "skiff"}
}

// disabledAdmission is ServiceAccount when the controllers do not run (no
// namespace gets its default account).
func disabledAdmission(opts Options) []string {
	if opts.DisableControllers {
		return []string{"ServiceAccount"}
	}
	return nil
}
