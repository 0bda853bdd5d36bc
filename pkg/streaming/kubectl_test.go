package streaming_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
	"github.com/skiffhq/skiff/pkg/streaming/proxy"
	"github.com/skiffhq/skiff/pkg/streaming/server"
	"github.com/skiffhq/skiff/pkg/streaming/streamtest"
	"github.com/skiffhq/skiff/test/harness"
)

// upgradeLog records which upgrades reached the streamer, by subresource.
type upgradeLog struct {
	next apiserver.PodStreamer
	mu   sync.Mutex
	seen []string
}

func (u *upgradeLog) ServePodStream(w http.ResponseWriter, r *http.Request, namespace, pod, subresource string) {
	if up := r.Header.Get("Upgrade"); up != "" {
		u.mu.Lock()
		u.seen = append(u.seen, subresource+" "+strings.ToLower(up))
		u.mu.Unlock()
	}
	u.next.ServePodStream(w, r, namespace, pod, subresource)
}

func (u *upgradeLog) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// kubectlCluster is the real API server (pkg/apiserver, in memory) with the
// streaming proxy as its PodStreamer, an agent server and the streamtest
// runtime behind it.
type kubectlCluster struct {
	rt         *streamtest.Runtime
	kubeconfig string
	home       string
	client     kubernetes.Interface
	upgrades   *upgradeLog
}

func startKubectlCluster(t *testing.T) *kubectlCluster {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.EnsureCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	kc := &kubectlCluster{rt: streamtest.New(t), home: dir, kubeconfig: filepath.Join(dir, "kubeconfig.yaml")}
	agentAddr := startAgent(t, ca, server.Config{Runtime: kc.rt, LogDir: kc.rt.LogDir})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	adminCert, adminKey, err := ca.EnsureClient(filepath.Join(dir, "tls"), "admin", "system:admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKubeconfig(kc.kubeconfig, url, ca.CertPEM(), adminCert, adminKey); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if kc.client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// The API server's own client is not throttled (its loopback one is not).
	cfg.QPS = -1
	loopback, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Config{
		Getter: proxy.ClientGetter(loopback),
		TLS: &tls.Config{
			Certificates: []tls.Certificate{keyPair(ca.SignClient(server.APIServerUser, nil))},
			RootCAs:      ca.CertPool(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	kc.upgrades = &upgradeLog{next: p}
	_, serviceNet, _ := net.ParseCIDR("10.43.0.0/16")
	api := apiserver.New(apiserver.Config{
		Storage:   memory.New(),
		Registry:  registry.New(registry.Options{ServiceCIDR: serviceNet}),
		ClientCAs: ca.CertPool(),
		Version:   version.Info{Major: "1", Minor: "33", GitVersion: "v1.33.0+skiff"},
		Streams:   kc.upgrades,
	})
	ctx, cancel := context.WithCancel(context.Background())
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.Run(ctx) }()
	certFile, keyFile, err := ca.EnsureServing(filepath.Join(dir, "tls"), "serving", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: api,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    ca.CertPool(),
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-apiDone
	})
	select {
	case <-api.Ready():
	case err := <-apiDone:
		t.Fatalf("API server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("API server not ready")
	}

	bg := context.Background()
	if _, err := kc.client.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.client.CoreV1().ServiceAccounts("default").Create(bg, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(agentAddr)
	var port int32
	fmt.Sscan(portStr, &port)
	node, err := kc.client.CoreV1().Nodes().Create(bg, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "node-1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	if _, err := kc.client.CoreV1().Nodes().UpdateStatus(bg, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return kc
}

// runningPod creates a pod bound to node-1, marks it Running and adds its
// containers to the runtime.
func (kc *kubectlCluster) runningPod(t *testing.T, name string, containers ...string) {
	t.Helper()
	bg := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "node-1"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "luksa/kubia", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}})
	}
	p, err := kc.client.CoreV1().Pods("default").Create(bg, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = "10.42.0.7"
	for _, c := range containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Ready: true, Image: "luksa/kubia",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		})
		kc.rt.AddContainer("default", name, c)
	}
	if _, err := kc.client.CoreV1().Pods("default").UpdateStatus(bg, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (kc *kubectlCluster) command(ctx context.Context, k harness.Kubectl, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.Path, append([]string{"--kubeconfig", kc.kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc.kubeconfig, "HOME="+kc.home)
	return cmd
}

// run runs kubectl to completion and returns stdout, stderr and the exit code.
//
// kubectl 1.30 to 1.32 start reading a WebSocket before they have made
// their streams, so a reply that comes at once can find no stream to go to:
// they print "Unknown stream id 1, discarding message" and lose it
// (kubernetes/kubernetes#131189, fixed in 1.33). Upstream's server does the
// same to them; such a run is a client's fault and is run again.
func (kc *kubectlCluster) run(t *testing.T, k harness.Kubectl, stdin string, args ...string) (string, string, int) {
	t.Helper()
	for try := 1; ; try++ {
		out, errOut, code := kc.runOnce(t, k, stdin, args...)
		if !strings.Contains(errOut, "Unknown stream id") || try == 3 {
			return out, errOut, code
		}
		t.Logf("kubectl %s %s lost a reply to its own race (kubernetes#131189), run again: %q", k.Version, strings.Join(args, " "), errOut)
	}
}

func (kc *kubectlCluster) runOnce(t *testing.T, k harness.Kubectl, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := kc.command(ctx, k, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return stdout.String(), stderr.String(), exitErr.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0
}

// minorOf is the kubectl's minor version, when its file name tells it.
func minorOf(k harness.Kubectl) (int, bool) {
	var major, minor int
	if _, err := fmt.Sscanf(k.Version, "%d.%d", &major, &minor); err != nil {
		return 0, false
	}
	return minor, true
}

// TestKubectl drives logs, exec, attach and port-forward with every real
// kubectl through the real API server, the proxy and the agent server.
func TestKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every kubectl binary")
	}
	kubectls := harness.Kubectls(t)
	kc := startKubectlCluster(t)
	for _, k := range kubectls {
		t.Run(k.Version, func(t *testing.T) {
			pod := "kubia-" + strings.ReplaceAll(k.Version, ".", "-")
			kc.runningPod(t, pod, "kubia")
			kc.rt.Println("default", pod, "kubia", "stdout", "Kubia server starting...")
			kc.rt.Println("default", pod, "kubia", "stdout", "Received request from ::ffff:10.42.0.1")
			kc.upgrades.take()

			check := func(what, stdin string, wantOut string, wantCode int, args ...string) string {
				t.Helper()
				out, errOut, code := kc.run(t, k, stdin, args...)
				if code != wantCode || (wantOut != "" && out != wantOut) {
					t.Errorf("kubectl %s (%s): exit %d, stdout %q, stderr %q; want exit %d, stdout %q",
						strings.Join(args, " "), what, code, out, errOut, wantCode, wantOut)
				}
				return errOut
			}

			check("logs", "", "Kubia server starting...\nReceived request from ::ffff:10.42.0.1\n", 0, "logs", pod)
			check("logs --tail", "", "Received request from ::ffff:10.42.0.1\n", 0, "logs", pod, "--tail=1")
			out, _, _ := kc.run(t, k, "", "logs", pod, "--timestamps", "--tail=1", "-c", "kubia")
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z Received request`).MatchString(out) {
				t.Errorf("logs --timestamps = %q", out)
			}

			errOut := check("exec", "", "hello from kubia\n", 0, "exec", pod, "--", "echo", "hello", "from", "kubia")
			if errOut != "" {
				t.Errorf("exec printed on stderr: %q", errOut)
			}
			check("exec -i", "typed into stdin\n", "typed into stdin\n", 0, "exec", "-i", pod, "--", "cat")
			errOut = check("exec exit code", "", "", 3, "exec", pod, "--", "exit", "3", "boom")
			if !strings.Contains(errOut, "boom") || !strings.Contains(errOut, "command terminated with exit code 3") {
				t.Errorf("exec exit 3 stderr = %q", errOut)
			}

			// kubectl 1.30+ speaks exec and attach over WebSocket, 1.31+
			// port-forward too; each must be served so, with no fallback to
			// SPDY. Older ones speak SPDY/3.1 only.
			minor, known := minorOf(k)
			expect := func(subresource string, websocketSince int) {
				t.Helper()
				seen := kc.upgrades.take()
				want := "spdy/3.1"
				if minor >= websocketSince {
					want = "websocket"
				}
				got := protocolsOf(seen, subresource)
				if len(got) == 0 || known && (len(got) != 1 || got[0] != want) {
					t.Errorf("kubectl %s %s upgrades: %q, want only %s (all upgrades: %q)", k.Version, subresource, got, want, seen)
				}
				t.Logf("kubectl %s upgrades: %q", k.Version, seen)
			}
			expect("exec", 30)
			check("attach -i", "typed\n", "attached to kubia\ntyped\n", 0, "attach", "-i", pod)
			expect("attach", 30)

			portForward(t, kc, k, pod)
			expect("portforward", 31)

			followLogs(t, kc, k, pod)
		})
	}
}

// protocolsOf are the distinct upgrade protocols upgradeLog saw for
// subresource.
func protocolsOf(seen []string, subresource string) []string {
	var protocols []string
	for _, s := range seen {
		if p, ok := strings.CutPrefix(s, subresource+" "); ok && !slices.Contains(protocols, p) {
			protocols = append(protocols, p)
		}
	}
	return protocols
}

// portForward runs `kubectl port-forward pod/P :8080` and echoes through it.
func portForward(t *testing.T, kc *kubectlCluster, k harness.Kubectl, pod string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := kc.command(ctx, k, "port-forward", "pod/"+pod, ":8080")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$`)
	var port string
	for port == "" && lines.Scan() {
		if m := forwarding.FindStringSubmatch(lines.Text()); m != nil {
			port = m[1]
		}
	}
	if port == "" {
		t.Fatalf("kubectl port-forward printed no forwarding line (stderr %q)", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	for i := range 2 {
		echoOnce(t, "127.0.0.1:"+port, fmt.Sprintf("GET / HTTP/1.1 #%d", i))
	}
	if strings.Contains(stderr.String(), "error") {
		t.Errorf("kubectl port-forward stderr: %s", stderr.String())
	}
}

// followLogs runs `kubectl logs -f` and checks it sees an appended line and
// ends when the container stops.
func followLogs(t *testing.T, kc *kubectlCluster, k harness.Kubectl, pod string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := kc.command(ctx, k, "logs", "-f", "--tail=1", pod)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	if l, err := lines.ReadString('\n'); err != nil || l != "Received request from ::ffff:10.42.0.1\n" {
		t.Fatalf("logs -f first line %q, %v", l, err)
	}
	kc.rt.Println("default", pod, "kubia", "stdout", "a line written while following")
	if l, err := lines.ReadString('\n'); err != nil || l != "a line written while following\n" {
		t.Fatalf("logs -f next line %q, %v", l, err)
	}
	kc.rt.Stop("default", pod, "kubia")
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil || len(rest) != 0 {
		t.Errorf("logs -f after the container stopped: %v, extra output %q", err, rest)
	}
}
