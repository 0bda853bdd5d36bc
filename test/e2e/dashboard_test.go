package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skiffhq/skiff/test/browser"
	"github.com/skiffhq/skiff/test/harness"
)

// shellPod runs busybox's sh reading its stdin, which stays open: a pod that
// waits, with a shell to open a terminal in.
const shellPod = `apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  containers:
  - name: sh
    image: busybox
    command: ["sh"]
    stdin: true
`

// TestDashboardOnARealNode: the seed's kubia runs in a real container, and
// the dashboard, opened from `kubectl cluster-info` through `kubectl proxy`
// in a real Chromium, follows its log and opens a shell in it.
func TestDashboardOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	n.mustKubectl("run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1")
	n.eventually("the kubia pod Ready", 120*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pods", "-l", "run=kubia", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}")
		return err == nil && out == "True", out
	})
	pod := n.mustKubectl("get", "pods", "-l", "run=kubia", "-o", "jsonpath={.items[0].metadata.name}")
	// A change of the pod's spec is a new generation, which the agent reports
	// having seen.
	n.mustKubectl("patch", "pod", pod, "-p", `{"spec":{"activeDeadlineSeconds":5000}}`)
	n.eventually("the agent observes generation 2", 20*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.generation} {.status.observedGeneration}")
		return err == nil && out == "2 2", out
	})
	// nodes/proxy reaches the node's agent, as upstream's reaches the kubelet.
	if out := n.mustKubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/healthz"); out != "ok" {
		t.Errorf("nodes/proxy/healthz: %q, want ok", out)
	}
	if out := n.mustKubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/pods"); !strings.Contains(out, `"kind":"PodList"`) || !strings.Contains(out, `"name":"`+pod+`"`) {
		t.Errorf("nodes/proxy/pods does not list %s: %.300s", pod, out)
	}

	// kubectl proxy and the browser share the node's namespace and its loopback.
	browser.ServeKubectlProxy(t, exec.Command("nsenter", "--net=/run/netns/"+n.ns, harness.Binary(t), "kubectl",
		"--kubeconfig", filepath.Join(n.dataDir, "kubeconfig.yaml"), "proxy", "--port", "8001"))
	info := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(n.mustKubectl("cluster-info"), "")
	m := regexp.MustCompile(`kubernetes-dashboard is running at https://[^/]+(\S+)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("cluster-info lists no dashboard:\n%s", info)
	}

	b := browser.StartIn(t, "real-node", n.ns)
	b.Open("http://127.0.0.1:8001" + m[1])
	b.Run("open "+pod, 20*time.Second,
		chromedp.Click(chromedp.CSS(`a[data-nav="pods"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-row][data-name="`+pod+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-row][data-name="`+pod+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-name="`+pod+`"]`)),
		chromedp.Click(chromedp.CSS(`button[data-action="logs"]`)))
	b.Wait("the container's log", `(document.querySelector('#logs')?.textContent || '').includes('Kubia server starting...')`, 30*time.Second)
	// A request to the pod shows up in the followed log.
	n.mustKubectl("get", "--raw", "/api/v1/namespaces/default/pods/"+pod+":8080/proxy/")
	b.Wait("the request in the followed log", `(document.querySelector('#logs')?.textContent || '').includes('Received request from')`, 30*time.Second)
	b.Screenshot("a real container's log")

	// A terminal: a shell in a container runs what is typed. kubia's image
	// has no shell; a pod of the static busybox waits on its open stdin.
	n.pushShellImage()
	manifest := filepath.Join(n.dataDir, "shell-pod.yaml")
	if err := os.WriteFile(manifest, []byte(shellPod), 0o644); err != nil {
		t.Fatal(err)
	}
	n.mustKubectl("create", "-f", manifest)
	n.eventually("the shell pod Ready", 120*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pod", "shell", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		return err == nil && out == "True", out
	})
	b.Run("open a terminal in the shell pod", 20*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-action="close"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-row][data-name="shell"]`)),
		chromedp.Click(chromedp.CSS(`[data-row][data-name="shell"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-name="shell"]`)),
		chromedp.Click(chromedp.CSS(`button[data-action="terminal"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#terminal`)))
	b.Wait("the shell connected", `document.querySelector('#terminal')?.dataset.state === 'connected'`, 30*time.Second)
	b.Run("type a command", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#terminal`)),
		chromedp.SendKeys(chromedp.CSS(`#terminal`), "echo $((6*7))\r"))
	b.Wait("its output", `(document.querySelector('#terminal')?.textContent || '').includes('42')`, 20*time.Second)
	b.Screenshot("a terminal in a container")
	b.Run("leave the shell", 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#terminal`), "exit\r"))
	b.Wait("the session ended", `document.querySelector('#terminal')?.dataset.state === 'ended' && document.querySelector('#terminal').textContent.includes('exit code 0')`, 20*time.Second)
}
