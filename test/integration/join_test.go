package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/test/harness"
)

// joinAs joins the test cluster through its real join endpoint and returns a
// client that is that node.
func joinAs(t *testing.T, c *harness.Cluster, name string) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(joinConfig(t, c, name))
}

// joinConfig joins as joinAs does and returns the node's client config.
func joinConfig(t *testing.T, c *harness.Cluster, name string) *rest.Config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.DataDir, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := join.ParseToken(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := join.Join(context.Background(), c.Server.URL, tok, join.Request{NodeName: name, NodeIP: "127.0.0.1", NodePassword: "integration-test-" + name})
	if err != nil {
		t.Fatal(err)
	}
	files, err := creds.Write(t.TempDir(), c.Server.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", files.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func wantForbidden(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
		return
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %q, want it to say %q", what, err.Error(), msg)
	}
}

// TestNodeRestriction: a joined node writes only its own Node, its Lease and
// the pods bound to it; it still reads what it needs.
func TestNodeRestriction(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	n1 := joinAs(t, c, "node-1")
	admin := c.Client

	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	if _, err := n1.CoreV1().Nodes().Create(ctx, node("node-1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("node-1 creating its own Node: %v", err)
	}
	_, err := n1.CoreV1().Nodes().Create(ctx, node("node-2"), metav1.CreateOptions{})
	wantForbidden(t, "node-1 creating node-2", err, `User "system:node:node-1" cannot create resource "nodes"`)
	if _, err := admin.CoreV1().Nodes().Create(ctx, node("node-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n2, _ := admin.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{})
	n2.Spec.Unschedulable = true
	_, err = n1.CoreV1().Nodes().Update(ctx, n2, metav1.UpdateOptions{})
	wantForbidden(t, "node-1 updating node-2", err, `node "node-1" is not allowed to modify node "node-2"`)
	_, err = n1.CoreV1().Nodes().UpdateStatus(ctx, n2, metav1.UpdateOptions{})
	wantForbidden(t, "node-1 updating node-2's status", err, "nodes/status")
	wantForbidden(t, "node-1 deleting node-2", n1.CoreV1().Nodes().Delete(ctx, "node-2", metav1.DeleteOptions{}), `cannot delete resource "nodes"`)
	own, _ := n1.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	own.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if _, err := n1.CoreV1().Nodes().UpdateStatus(ctx, own, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node-1 updating its own status: %v", err)
	}

	pod := func(name, on string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			NodeName: on, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	_, err = n1.CoreV1().Pods("default").Create(ctx, pod("mine", "node-1"), metav1.CreateOptions{})
	wantForbidden(t, "node-1 creating a pod", err, `node "node-1" can only create mirror pods`)
	for _, p := range []*corev1.Pod{pod("mine", "node-1"), pod("theirs", "node-2")} {
		if _, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = n1.CoreV1().Pods("default").Get(ctx, "theirs", metav1.GetOptions{})
	wantForbidden(t, "node-1 reading a pod of node-2", err, `no relationship found between node 'node-1' and this object`)
	theirs, _ := admin.CoreV1().Pods("default").Get(ctx, "theirs", metav1.GetOptions{})
	theirs.Status.Phase = corev1.PodFailed
	_, err = n1.CoreV1().Pods("default").UpdateStatus(ctx, theirs, metav1.UpdateOptions{})
	wantForbidden(t, "node-1 updating a pod of node-2", err, `node "node-1" can only update pod status for pods with spec.nodeName set to itself`)
	wantForbidden(t, "node-1 deleting a pod of node-2", n1.CoreV1().Pods("default").Delete(ctx, "theirs", metav1.DeleteOptions{}), "can only delete pods with spec.nodeName set to itself")
	_, err = n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "node-1 listing every pod", err, "can only list/watch pods with spec.nodeName field selector")
	if l, err := n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-1"}); err != nil || len(l.Items) != 1 {
		t.Fatalf("node-1 listing its own pods: %v", err)
	}
	mine, _ := n1.CoreV1().Pods("default").Get(ctx, "mine", metav1.GetOptions{})
	mine.Status.Phase = corev1.PodRunning
	if _, err := n1.CoreV1().Pods("default").UpdateStatus(ctx, mine, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node-1 updating its pod's status: %v", err)
	}
	if err := n1.CoreV1().Pods("default").Delete(ctx, "mine", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("node-1 deleting its pod: %v", err)
	}

	lease := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-node-lease"}}
	}
	if _, err := n1.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease("node-1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("node-1 creating its Lease: %v", err)
	}
	_, err = n1.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease("node-2"), metav1.CreateOptions{})
	wantForbidden(t, "node-1 creating node-2's Lease", err, "its own Lease")

	_, err = n1.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	wantForbidden(t, "node-1 creating a Service", err, `cannot create resource "services" in API group "" in the namespace "default"`)
	wantForbidden(t, "node-1 deleting all pods", n1.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}), "forbidden")
	if _, err := n1.CoreV1().Services("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("node-1 listing services: %v", err)
	}

	// Secrets and ConfigMaps: only those of its own pods, one by one.
	for _, name := range []string{"used", "unused"} {
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
			StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	user := pod("user", "node-1")
	user.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "K", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "used"}, Key: "k"}}}}
	user.Spec.Volumes = []corev1.Volume{{Name: "cm", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "used"}}}}}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, user, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.CoreV1().Secrets("default").Get(ctx, "used", metav1.GetOptions{}); err != nil {
		t.Fatalf("node-1 reading a secret its pod uses: %v", err)
	}
	if _, err := n1.CoreV1().ConfigMaps("default").Get(ctx, "used", metav1.GetOptions{}); err != nil {
		t.Fatalf("node-1 reading a configmap its pod uses: %v", err)
	}
	_, err = n1.CoreV1().Secrets("default").Get(ctx, "unused", metav1.GetOptions{})
	wantForbidden(t, "node-1 reading a secret no pod of it uses", err, `no relationship found between node 'node-1' and this object`)
	_, err = n1.CoreV1().ConfigMaps("default").Get(ctx, "unused", metav1.GetOptions{})
	wantForbidden(t, "node-1 reading a configmap no pod of it uses", err, "no relationship found")
	_, err = n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "node-1 listing secrets", err, `cannot list resource "secrets"`)

	// Nothing the refusals touched changed.
	if got, _ := admin.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{}); got.Spec.Unschedulable {
		t.Error("node-2 was changed by node-1")
	}
	if got, _ := admin.CoreV1().Pods("default").Get(ctx, "theirs", metav1.GetOptions{}); got.Status.Phase != corev1.PodPending && got.Status.Phase != "" {
		t.Errorf("node-2's pod phase is %q after node-1's refused update", got.Status.Phase)
	}
}

// TestAgentRefusesWrongToken: `skiff agent` with a token that is not the
// server's exits non-zero at once, says why, and writes nothing.
func TestAgentRefusesWrongToken(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	raw, _ := os.ReadFile(filepath.Join(c.DataDir, "server", "token"))
	tok, err := join.ParseToken(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	// node "taken" joined from another host and its Node exists.
	joinAs(t, c, "taken")
	if _, err := c.Client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wrongSecret := join.Token{CAHash: tok.CAHash, Secret: "0123456789abcdef"}.String()
	otherCluster := join.Token{CAHash: "sha256:" + strings.Repeat("ab", 32), Secret: tok.Secret}.String()
	for _, tc := range []struct {
		name, token, node, want string
		extra                   []string
	}{
		{"wrong secret", wrongSecret, "intruder", "the server refused the join token", nil},
		{"another cluster's CA", otherCluster, "intruder", "the server's CA does not match the join token", nil},
		{"malformed", "hunter2", "intruder", "malformed join token", nil},
		{"a node name another host holds", tok.String(), "taken", `node "taken" already joined from another host`, nil},
		{"an unknown network backend", tok.String(), "intruder", `--network-backend: network backend "flannel": want "host-gw" or "vxlan"`,
			[]string{"--network-backend", "flannel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := append([]string{"agent", "--server", c.Server.URL, "--token", tc.token,
				"--data-dir", dir, "--node-name", tc.node, "--node-ip", "127.0.0.1"}, tc.extra...)
			out, err := exec.CommandContext(ctx, harness.Binary(t), args...).CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("skiff agent: %v (timed out: %v), want a non-zero exit; output:\n%s", err, ctx.Err() != nil, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("skiff agent said:\n%s\nwant it to say %q", out, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("skiff agent wrote %d entries into its data dir after a refused join", len(entries))
			}
			if _, err := c.Client.CoreV1().Nodes().Get(context.Background(), "intruder", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("the refused agent's Node exists: %v", err)
			}
		})
	}
}
