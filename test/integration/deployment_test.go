package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestDeploymentRollouts drives a Deployment on hollow nodes the way a user
// does, with the oldest and the newest real kubectl: create, rollout status,
// set image, history, undo, scale, pause and resume, restart, delete; the
// ReplicaSet and Deployment controllers do the rest.
func TestDeploymentRollouts(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 3})
	ks := harness.Kubectls(t)
	for _, k := range []harness.Kubectl{ks[0], ks[len(ks)-1]} {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			ns := "rollout-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string {
				t.Helper()
				return c.MustRun(t, k, "", append([]string{"-n", ns}, args...)...)
			}
			run("create", "namespace", ns)
			run("create", "deployment", "web", "--image=luksa/kubia:v1", "--replicas=3", "--port=8080")
			if out := run("rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, `deployment "web" successfully rolled out`) {
				t.Fatalf("rollout status: %q", out)
			}
			sets := func() map[string]string { // name -> DESIRED/READY
				rows := map[string]string{}
				for _, l := range strings.Split(strings.TrimSpace(run("get", "rs", "--no-headers")), "\n") {
					f := strings.Fields(l)
					if len(f) >= 4 {
						rows[f[0]] = f[1] + "/" + f[3]
					}
				}
				return rows
			}
			first := sets()
			if len(first) != 1 {
				t.Fatalf("after create: replica sets %v, want one", first)
			}
			for name, counts := range first {
				if !strings.HasPrefix(name, "web-") || counts != "3/3" {
					t.Fatalf("replica set %s %s; want web-HASH 3/3", name, counts)
				}
			}
			if out := run("get", "deployment", "web"); !strings.Contains(out, "3/3") {
				t.Fatalf("get deployment: %q", out)
			}

			run("set", "image", "deployment/web", "kubia=luksa/kubia:v2")
			run("rollout", "status", "deployment/web", "--timeout=60s")
			second := sets()
			if len(second) != 2 {
				t.Fatalf("after set image: replica sets %v, want the old at 0 and the new at 3", second)
			}
			for name, counts := range second {
				if _, old := first[name]; old && counts != "0/0" || !old && counts != "3/3" {
					t.Fatalf("after set image: %s is %s (old: %v)", name, counts, old)
				}
			}
			if out := run("rollout", "history", "deployment/web"); !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
				t.Fatalf("rollout history: %q", out)
			}

			run("rollout", "undo", "deployment/web")
			run("rollout", "status", "deployment/web", "--timeout=60s")
			if img := run("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "luksa/kubia:v1" {
				t.Fatalf("after undo the image is %q", img)
			}
			for name, counts := range sets() {
				if _, old := first[name]; old && counts != "3/3" || !old && counts != "0/0" {
					t.Fatalf("after undo: %s is %s; want the first replica set back at 3", name, counts)
				}
			}
			if rev := run("get", "deployment", "web", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`); rev != "3" {
				t.Fatalf("after undo the revision is %q, want 3", rev)
			}

			run("scale", "deployment", "web", "--replicas=5")
			run("rollout", "status", "deployment/web", "--timeout=60s")
			if n := len(strings.Split(strings.TrimSpace(run("get", "pods", "--no-headers", "--field-selector=status.phase=Running")), "\n")); n != 5 {
				t.Fatalf("after scale to 5: %d pods Running", n)
			}

			run("rollout", "pause", "deployment/web")
			run("set", "image", "deployment/web", "kubia=luksa/kubia:v3")
			time.Sleep(time.Second)
			if len(sets()) != 2 {
				t.Fatalf("a paused deployment rolled out: %v", sets())
			}
			run("rollout", "resume", "deployment/web")
			run("rollout", "status", "deployment/web", "--timeout=60s")
			run("rollout", "restart", "deployment/web")
			run("rollout", "status", "deployment/web", "--timeout=60s")
			if n := len(sets()); n != 4 {
				t.Fatalf("after resume and restart: %d replica sets, want 4 (v1, v2, v3, restarted)", n)
			}

			run("delete", "deployment", "web")
			deadline := time.Now().Add(30 * time.Second)
			for {
				pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
				rs, err2 := c.Client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
				if err == nil && err2 == nil && len(pods.Items) == 0 && len(rs.Items) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after deleting the deployment: %s", fmt.Sprint(len(pods.Items), " pods, ", len(rs.Items), " replica sets left"))
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
