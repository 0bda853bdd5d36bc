package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestKubectlDrainAndCordon: the newest real kubectl's cordon, drain and uncordon on
// hollow nodes. Drain evicts the RC's pods, which come back on the other node,
// and the drained node takes no new pods until it is uncordoned.
func TestKubectlDrainAndCordon(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 2})
	ctx := context.Background()
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	c.MustRun(t, harness.BuiltinKubectl(t), "", "run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--replicas=4")
	pods := c.Client.CoreV1().Pods("default")
	perNode := func() (map[string]int, string) {
		list, _ := pods.List(ctx, metav1.ListOptions{LabelSelector: "run=kubia"})
		m := map[string]int{}
		var b strings.Builder
		for _, p := range list.Items {
			fmt.Fprintf(&b, "%s %s %s deleting=%v\n", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				m[p.Spec.NodeName]++
			}
		}
		return m, b.String()
	}
	eventually(t, "4 running on both nodes", 30*time.Second, func() (bool, string) {
		m, s := perNode()
		return m["hollow-1"]+m["hollow-2"] == 4 && m["hollow-1"] > 0, s
	})

	out := c.MustRun(t, k, "", "drain", "hollow-1", "--ignore-daemonsets", "--timeout=60s")
	if !strings.Contains(out, "node/hollow-1 drained") || !strings.Contains(out, "evicting pod default/kubia-") {
		t.Fatalf("kubectl drain said:\n%s", out)
	}
	eventually(t, "4 running, all on hollow-2", 30*time.Second, func() (bool, string) {
		m, s := perNode()
		return m["hollow-2"] == 4 && m["hollow-1"] == 0, s
	})
	if got := c.MustRun(t, k, "", "get", "node", "hollow-1", "--no-headers"); !strings.Contains(got, "Ready,SchedulingDisabled") {
		t.Fatalf("drained node: %s", got)
	}
	c.MustRun(t, k, "", "scale", "rc", "kubia", "--replicas=6")
	eventually(t, "6 running, none on the cordoned node", 30*time.Second, func() (bool, string) {
		m, s := perNode()
		return m["hollow-2"] == 6 && m["hollow-1"] == 0, s
	})
	if out := c.MustRun(t, k, "", "uncordon", "hollow-1"); !strings.Contains(out, "node/hollow-1 uncordoned") {
		t.Fatalf("kubectl uncordon said: %s", out)
	}
	c.MustRun(t, k, "", "cordon", "hollow-2")
	c.MustRun(t, k, "", "scale", "rc", "kubia", "--replicas=8")
	eventually(t, "the 2 new pods on the uncordoned node", 30*time.Second, func() (bool, string) {
		m, s := perNode()
		return m["hollow-2"] == 6 && m["hollow-1"] == 2, s
	})
}
