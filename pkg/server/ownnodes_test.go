package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/join"
)

// standInNode registers the Node the way the agent does (labels, then its
// address in the status), once register is closed, and holds it until ctx ends.
func standInNode(register <-chan struct{}) func(context.Context, NodeConfig) error {
	return func(ctx context.Context, nc NodeConfig) error {
		select {
		case <-register:
		case <-ctx.Done():
			return nil
		}
		nodes := kubernetes.NewForConfigOrDie(nc.Client).CoreV1().Nodes()
		node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nc.NodeName,
			Labels: map[string]string{corev1.LabelHostname: nc.NodeName}}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			node, err = nodes.Get(ctx, nc.NodeName, metav1.GetOptions{})
		}
		if err != nil {
			return err
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nc.NodeIP}}
		if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
}

// startWithNode runs a server with its own node (stood in for) on dir.
func startWithNode(t *testing.T, dir string, port int, name string, register <-chan struct{}) (*Server, kubernetes.Interface, join.Token, func()) {
	t.Helper()
	s, err := New(Config{DataDir: dir, BindAddress: "127.0.0.1", HTTPSPort: port, NodeName: name, NodeIP: "10.0.0.1", DisableControllers: true})
	if err != nil {
		t.Fatal(err)
	}
	s.runNode = standInNode(register)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server failed: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := join.ParseToken(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return s, kubernetes.NewForConfigOrDie(cfg), tok, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
}

// impersonate joins as name from another host and, if the server lets it,
// does what that host's agent would: it posts its own address and labels.
func impersonate(t *testing.T, s *Server, tok join.Token, name string) error {
	t.Helper()
	ctx := context.Background()
	creds, err := join.Join(ctx, s.URL, tok, join.Request{NodeName: name, NodeIP: "10.66.6.6", NodePassword: "impostor-password-000"})
	if err != nil {
		return err
	}
	files, err := creds.Write(t.TempDir(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", files.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	nodes := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes()
	if node, err := nodes.Get(ctx, name, metav1.GetOptions{}); err == nil {
		node.Labels["impostor"] = "yes"
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err == nil {
			node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.66.6.6"}}
			_, _ = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		}
	}
	return nil
}

func waitForNode(t *testing.T, c kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{}); err == nil && len(n.Status.Addresses) > 0 {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node %q never registered", name)
	return nil
}

// TestJoinUnderTheServersNodeNameIsRefused: a host joining under the name of
// the server's own node, before or after that Node is registered, is refused
// as any host joining under a name another host holds is, and the Node keeps
// its address and labels. After a restart under another name, the former one
// stays the server's for as long as its Node exists.
func TestJoinUnderTheServersNodeNameIsRefused(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	register := make(chan struct{})
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	own := strings.ToLower(hostname)
	if own == "ctl" {
		t.Skip("this host is called ctl")
	}
	s, admin, tok, stop := startWithNode(t, dir, port, "ctl", register)
	ctx := context.Background()

	err = impersonate(t, s, tok, "ctl")
	if !errors.Is(err, join.ErrRejected) || !strings.Contains(err.Error(), "403 ") || !strings.Contains(err.Error(), `node "ctl" already joined from another host`) {
		t.Errorf("joining as ctl before its Node is registered: %v, want the 403 a taken name gets", err)
	}
	close(register)
	before := waitForNode(t, admin, "ctl")

	// What a name another host holds gets.
	if _, err := join.Join(ctx, s.URL, tok, join.Request{NodeName: "w1", NodeIP: "10.0.0.2", NodePassword: "worker-one-password-0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, taken := join.Join(ctx, s.URL, tok, join.Request{NodeName: "w1", NodeIP: "10.66.6.6", NodePassword: "impostor-password-000"})
	if taken == nil {
		t.Fatal("a second host joined as w1")
	}
	err = impersonate(t, s, tok, "ctl")
	if err == nil || err.Error() != strings.ReplaceAll(taken.Error(), "w1", "ctl") {
		t.Errorf("joining as ctl: %v\nwant what joining as a taken name says: %v", err, taken)
	}
	if err := impersonate(t, s, tok, "CTL"); !errors.Is(err, join.ErrRejected) {
		t.Errorf("joining as CTL: %v, want a rejection", err)
	}
	after, err := admin.CoreV1().Nodes().Get(ctx, "ctl", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Status.Addresses[0].Address != "10.0.0.1" || after.Labels["impostor"] != "" {
		t.Errorf("node ctl changed: addresses %v labels %v (resourceVersion %s, was %s)",
			after.Status.Addresses, after.Labels, after.ResourceVersion, before.ResourceVersion)
	}
	stop()

	// Restarted under the host's name (the default): ctl is no longer
	// reserved, but its Node still exists, and the name is still this host's.
	s, admin, tok, stop = startWithNode(t, dir, port, "", register)
	defer stop()
	waitForNode(t, admin, own)
	if err := impersonate(t, s, tok, own); !errors.Is(err, join.ErrRejected) {
		t.Errorf("joining as the server's default node name %q: %v, want a rejection", own, err)
	}
	if err := impersonate(t, s, tok, "ctl"); !errors.Is(err, join.ErrRejected) {
		t.Errorf("joining as the server's former node name while its Node exists: %v, want a rejection", err)
	}
	if err := admin.CoreV1().Nodes().Delete(ctx, "ctl", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := impersonate(t, s, tok, "ctl"); err != nil {
		t.Errorf("joining as ctl once its Node is deleted: %v", err)
	}
}

// TestOwnNodes: the names a server runs itself.
func TestOwnNodes(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		name string
		want bool
	}{
		{Config{NodeName: "vm"}, "vm", true},
		{Config{NodeName: "vm"}, "VM", true},
		{Config{NodeName: "vm"}, "vm2", false},
		{Config{NodeName: "vm", DisableAgent: true}, "vm", false}, // a `skiff agent` on the server's host may take it
		{Config{HollowNodes: 3}, "hollow-1", true},
		{Config{HollowNodes: 3}, "hollow-3", true},
		{Config{HollowNodes: 3}, "hollow-4", false},
		{Config{HollowNodes: 3}, "hollow-0", false},
		{Config{HollowNodes: 3}, "hollow-01", false},
		{Config{HollowNodes: 3}, "hollow-x", false},
		{Config{}, "hollow-1", false},
	} {
		if got := ownNodes(tc.cfg)(tc.name); got != tc.want {
			t.Errorf("ownNodes(%+v)(%q) = %v, want %v", tc.cfg, tc.name, got, tc.want)
		}
	}
}
