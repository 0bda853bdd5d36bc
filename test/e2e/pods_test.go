package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/harness"
)

// TestPodsOnARealNode walks the README's "Pods as upstream runs them" with
// real clients: a sidecar tails the log file its app writes into an emptyDir;
// kubectl 1.33 execs over WebSocket (and says so) and follows logs;
// kubectl debug adds an ephemeral container that sees the app's processes; a
// resize reaches the running container without a restart; and the node's
// metrics come through nodes/proxy.
func TestPodsOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	n.pushShellImage()
	n.mustKubectl("apply", "-f", filepath.Join("..", "integration", "testdata", "sidecar.yaml"))
	n.eventually("the sidecar pod Ready", 120*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pod", "sidecar", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		return err == nil && out == "True", out
	})
	n.eventually("the sidecar tailing the app's log", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("logs", "sidecar", "-c", "tail")
		return err == nil && strings.Contains(out, "line 3\n"), out
	})

	// kubectl 1.33 prefers WebSocket for exec; -v=4 names the protocol it
	// negotiated (an SPDY fallback would log "RemoteCommand fallback").
	k := kubectl133(t)
	out, err := n.realKubectl(k, "-v=4", "exec", "sidecar", "-c", "app", "--", "sh", "-c", "echo from-the-app")
	if err != nil || !strings.Contains(out, "from-the-app") {
		t.Fatalf("kubectl %s exec: %v\n%s", k.Version, err, out)
	}
	if !wsV5.MatchString(out) || strings.Contains(out, "RemoteCommand fallback") {
		t.Errorf("kubectl %s exec did not run over WebSocket v5:\n%s", k.Version, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	follow, _ := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+n.ns, k.Path, "--kubeconfig", filepath.Join(n.dataDir, "kubeconfig.yaml"),
		"logs", "-f", "--tail=1", "sidecar", "-c", "tail").Output()
	if lines := strings.Count(string(follow), "line "); lines < 2 {
		t.Errorf("kubectl logs -f followed %d lines in 4 s:\n%s", lines, follow)
	}

	// An ephemeral container in the app's process namespace sees its loop.
	n.mustKubectl("debug", "sidecar", "--image=busybox", "--target=app", "--container=dbg", "--", "sh", "-c", "ps")
	n.eventually("the debug container's ps", 60*time.Second, func() (bool, string) {
		out, err := n.kubectl("logs", "sidecar", "-c", "dbg")
		return err == nil && strings.Contains(out, "app.log"), out
	})

	// A resize: the new memory limit in the status, the same container.
	n.mustKubectl("patch", "pod", "sidecar", "--subresource", "resize", "-p", `{"spec":{"containers":[{"name":"app","resources":{"requests":{"memory":"96Mi"},"limits":{"memory":"96Mi"}}}]}}`)
	n.eventually("the resize applied", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pod", "sidecar", "-o", "jsonpath={.status.containerStatuses[0].resources.limits.memory} {.status.containerStatuses[0].restartCount}")
		return err == nil && out == "96Mi 0", out
	})

	if out := n.mustKubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/metrics"); !strings.Contains(out, "kubelet_running_pods ") {
		t.Errorf("nodes/proxy/metrics: %.400s", out)
	}
}

// wsV5 is the line client-go's WebSocket executor logs at -v=4 once the
// server chose v5.channel.k8s.io (its wording changed after 1.33).
var wsV5 = regexp.MustCompile(`The subprotocol is v5\.channel\.k8s\.io|"Subprotocol negotiated" protocol="v5\.channel\.k8s\.io"`)

// kubectl133 is the real kubectl 1.33 (the version that prefers WebSocket
// for exec and port-forward), or the newest there is.
func kubectl133(t *testing.T) harness.Kubectl {
	ks := harness.Kubectls(t)
	for _, k := range ks {
		if k.Version == "1.33" {
			return k
		}
	}
	return ks[len(ks)-1]
}

// realKubectl runs a real kubectl binary in the node's namespace, with its
// standard error after its output.
func (n *node) realKubectl(k harness.Kubectl, args ...string) (string, error) {
	full := append([]string{"--net=/run/netns/" + n.ns, k.Path, "--kubeconfig", filepath.Join(n.dataDir, "kubeconfig.yaml")}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}
