package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

// dsYAML is a DaemonSet of luksa/kubia:v1 named name, with extra spliced
// into the pod spec (indented four spaces below "spec:").
func dsYAML(name, extra string) string {
	return `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ` + name + `
spec:
  selector:
    matchLabels:
      app: ` + name + `
  template:
    metadata:
      labels:
        app: ` + name + `
    spec:
      containers:
      - name: kubia
        image: luksa/kubia:v1
` + extra
}

// dsPlacement maps each node to the images of the live pods of app there,
// and says which are not Running yet.
func dsPlacement(t *testing.T, c *harness.Cluster, ns, app string) (map[string][]string, int) {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	m := map[string][]string{}
	notRunning := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			notRunning++
			continue
		}
		m[p.Spec.NodeName] = append(m[p.Spec.NodeName], p.Spec.Containers[0].Image)
		if p.Status.Phase != corev1.PodRunning {
			notRunning++
		}
	}
	for _, v := range m {
		sort.Strings(v)
	}
	return m, notRunning
}

// dsWaitPlacement waits until app's pods run on exactly the nodes of want,
// with those images, and nothing else is left.
func dsWaitPlacement(t *testing.T, c *harness.Cluster, ns, app string, want map[string][]string) {
	t.Helper()
	dsEventually(t, fmt.Sprintf("pods of %s on %v", app, want), 30*time.Second, func() (bool, string) {
		got, notRunning := dsPlacement(t, c, ns, app)
		return fmt.Sprint(got) == fmt.Sprint(want) && notRunning == 0, fmt.Sprintf("%v (%d not running)", got, notRunning)
	})
}

func dsEventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var why string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %s", d, what, why)
}

// TestDaemonSetFollowsNodes: a DaemonSet with a nodeSelector runs on the
// hollow nodes labelled for it, not on one tainted against it, gains a pod on
// a node that joins and loses the pods of nodes that are unlabelled or leave.
func TestDaemonSetFollowsNodes(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 2})
	k := harness.BuiltinKubectl(t)
	run := func(args ...string) string {
		t.Helper()
		return c.MustRun(t, k, "", args...)
	}
	c.MustRun(t, k, dsYAML("ssd-agent", "      nodeSelector:\n        disk: ssd\n"), "apply", "-f", "-")
	dsEventually(t, "the status of a DaemonSet with no node to run on", 10*time.Second, func() (bool, string) {
		out := run("get", "ds", "ssd-agent", "--no-headers")
		f := strings.Fields(out)
		return len(f) >= 6 && f[1] == "0" && f[2] == "0", out
	})

	run("label", "node", "hollow-1", "disk=ssd")
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-1": {"luksa/kubia:v1"}})

	// Tainted against it: no pod, although labelled.
	run("taint", "node", "hollow-2", "dedicated=infra:NoSchedule")
	run("label", "node", "hollow-2", "disk=ssd")
	time.Sleep(time.Second)
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-1": {"luksa/kubia:v1"}})
	if out := run("get", "ds", "ssd-agent", "--no-headers"); !strings.HasPrefix(strings.Join(strings.Fields(out), " "), "ssd-agent 1 1 1 1 1 disk=ssd") {
		t.Fatalf("get ds with one eligible node: %q", out)
	}
	run("taint", "node", "hollow-2", "dedicated-")
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-1": {"luksa/kubia:v1"}, "hollow-2": {"luksa/kubia:v1"}})

	run("label", "node", "hollow-1", "disk-")
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-2": {"luksa/kubia:v1"}})

	// A node joining already labelled gets a pod; when it leaves, its pod goes.
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	n := hollow.New(c.Client, hollow.Options{Name: "ds-joiner", Labels: map[string]string{"disk": "ssd"},
		HeartbeatInterval: time.Second, StatusInterval: time.Second})
	done := make(chan struct{})
	go func() { _ = n.Run(ctx); close(done) }()
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-2": {"luksa/kubia:v1"}, "ds-joiner": {"luksa/kubia:v1"}})
	stop()
	<-done
	run("delete", "node", "ds-joiner")
	dsWaitPlacement(t, c, "default", "ssd-agent", map[string][]string{"hollow-2": {"luksa/kubia:v1"}})
	dsEventually(t, "the status after the node left", 10*time.Second, func() (bool, string) {
		out := run("get", "ds", "ssd-agent", "--no-headers")
		return strings.HasPrefix(strings.Join(strings.Fields(out), " "), "ssd-agent 1 1 1 1 1 disk=ssd"), out
	})
}

// TestDaemonSetRollouts drives a DaemonSet on hollow nodes with the oldest
// and the newest real kubectl: apply, rollout status, set image (a rolling
// update), history, undo, delete.
func TestDaemonSetRollouts(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 3})
	ks := harness.Kubectls(t)
	all := func(image string) map[string][]string {
		return map[string][]string{"hollow-1": {image}, "hollow-2": {image}, "hollow-3": {image}}
	}
	for _, k := range []harness.Kubectl{ks[0], ks[len(ks)-1]} {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			ns := "ds-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string {
				t.Helper()
				return c.MustRun(t, k, "", append([]string{"-n", ns}, args...)...)
			}
			run("create", "namespace", ns)
			c.MustRun(t, k, dsYAML("agent", ""), "-n", ns, "apply", "-f", "-")
			if out := run("rollout", "status", "ds/agent", "--timeout=60s"); !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
				t.Fatalf("rollout status: %q", out)
			}
			dsWaitPlacement(t, c, ns, "agent", all("luksa/kubia:v1"))
			if out := run("get", "ds", "agent", "--no-headers"); !strings.HasPrefix(strings.Join(strings.Fields(out), " "), "agent 3 3 3 3 3 <none>") {
				t.Fatalf("get ds: %q", out)
			}

			run("set", "image", "ds/agent", "kubia=luksa/kubia:v2")
			if out := run("rollout", "status", "ds/agent", "--timeout=60s"); !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
				t.Fatalf("rollout status after set image: %q", out)
			}
			dsWaitPlacement(t, c, ns, "agent", all("luksa/kubia:v2"))
			if out := run("rollout", "history", "ds/agent"); !dsHasLineStartingWith(out, "1") || !dsHasLineStartingWith(out, "2") {
				t.Fatalf("rollout history: %q", out)
			}
			if out := run("rollout", "history", "ds/agent", "--revision=1"); !strings.Contains(out, "luksa/kubia:v1") {
				t.Fatalf("rollout history --revision=1: %q", out)
			}

			if out := run("rollout", "undo", "ds/agent"); !strings.Contains(out, "rolled back") {
				t.Fatalf("rollout undo: %q", out)
			}
			run("rollout", "status", "ds/agent", "--timeout=60s")
			dsWaitPlacement(t, c, ns, "agent", all("luksa/kubia:v1"))
			if img := run("get", "ds", "agent", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "luksa/kubia:v1" {
				t.Fatalf("after undo the image is %q", img)
			}
			// The undo made revision 1 the newest: 2 and 3 are left.
			if out := run("rollout", "history", "ds/agent"); dsHasLineStartingWith(out, "1") || !dsHasLineStartingWith(out, "3") {
				t.Fatalf("rollout history after undo: %q", out)
			}

			run("delete", "ds", "agent")
			dsEventually(t, "pods and revisions gone with the DaemonSet", 30*time.Second, func() (bool, string) {
				pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
				revs, err2 := c.Client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
				if err != nil || err2 != nil {
					return false, fmt.Sprint(err, err2)
				}
				return len(pods.Items) == 0 && len(revs.Items) == 0, fmt.Sprint(len(pods.Items), " pods, ", len(revs.Items), " revisions")
			})
		})
	}
}

func dsHasLineStartingWith(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
			return true
		}
	}
	return false
}
