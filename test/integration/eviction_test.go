package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/test/harness"
)

const pdbViolates = "Cannot evict pod as it would violate the pod's disruption budget."

// pdbWebSetup creates a Deployment web of 3 and a budget web of minAvailable
// 2 with kubectl k, and waits until the disruption controller allows one
// disruption.
func pdbWebSetup(t *testing.T, c *harness.Cluster, k harness.Kubectl) {
	t.Helper()
	c.MustRun(t, k, "", "create", "deployment", "web", "--image=luksa/kubia", "--replicas=3")
	mustContain(t, "create pdb", c.MustRun(t, k, "", "create", "pdb", "web", "--selector=app=web", "--min-available=2"),
		"poddisruptionbudget.policy/web created")
	pdbWaitAllowed(t, c.Client, 3, 1)
}

// pdbWaitAllowed waits until the budget web counts healthy pods of the 3
// expected and allows n disruptions.
func pdbWaitAllowed(t *testing.T, client kubernetes.Interface, healthy, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("budget web has %d healthy pods and allows %d disruption(s)", healthy, n), 60*time.Second, func() (bool, string) {
		pdb, err := client.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := pdb.Status
		return st.ObservedGeneration == pdb.Generation && st.CurrentHealthy == healthy && st.DisruptionsAllowed == n && st.ExpectedPods == 3,
			fmt.Sprintf("%+v", st)
	})
}

// pdbHealthy names the Ready, not terminating pods of app=web, sorted.
func pdbHealthy(t *testing.T, client kubernetes.Interface) []string {
	t.Helper()
	list, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		if pdbPodHealthy(&p) {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

func pdbPodHealthy(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestPDBDrainBlocks: on a one-node cluster, `kubectl drain` of a Deployment of
// 3 guarded by minAvailable 2 evicts one pod, then is refused with upstream's
// 429 until it times out; a direct eviction is refused the same way, with the
// budget's cause; `kubectl get pdb` shows the counts. Once the node is
// uncordoned and the replacement is ready, the budget allows one again.
func TestPDBDrainBlocks(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	ks := harness.Kubectls(t)
	oldest, newest := ks[0], ks[len(ks)-1]
	pdbWebSetup(t, c, newest)

	for _, k := range []harness.Kubectl{oldest, newest} {
		out := c.MustRun(t, k, "", "get", "pdb")
		if !hasLine(strings.SplitN(out, "\n", 2)[0], "NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE") ||
			!hasLineStarting(out, "web", "2", "N/A", "1") {
			t.Fatalf("kubectl %s get pdb:\n%s", k.Version, out)
		}
	}

	for i, k := range []harness.Kubectl{newest, oldest} {
		before := pdbHealthy(t, c.Client)
		if len(before) != 3 {
			t.Fatalf("before drain %d: healthy pods %v, want 3", i+1, before)
		}
		out, errOut, err := c.Run(k, "", "drain", "hollow-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=15s")
		all := out + errOut
		t.Logf("kubectl %s drain:\n%s", k.Version, all)
		if err == nil {
			t.Fatalf("kubectl %s drain went through a budget that allows one disruption:\n%s", k.Version, all)
		}
		if n := strings.Count(all, " evicted\n"); n != 1 {
			t.Fatalf("kubectl %s drain evicted %d pods, want 1:\n%s", k.Version, n, all)
		}
		mustContain(t, "kubectl "+k.Version+" drain", all, "evicting pod default/web-", "(will retry after 5s): "+pdbViolates)
		after := pdbHealthy(t, c.Client)
		if len(after) != 2 {
			t.Fatalf("after drain %d: healthy pods %v, want 2", i+1, after)
		}
		pdbWaitAllowed(t, c.Client, 2, 0)
		if out := c.MustRun(t, k, "", "get", "pdb", "web", "--no-headers"); !hasLineStarting(out, "web", "2", "N/A", "0") {
			t.Fatalf("kubectl %s get pdb after the drain: %s", k.Version, out)
		}

		// A client's own eviction gets the same answer, with the reason.
		err = c.Client.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: after[0], Namespace: "default"}})
		var se apierrors.APIStatus
		if !apierrors.IsTooManyRequests(err) || !errors.As(err, &se) || se.Status().Message != pdbViolates {
			t.Fatalf("direct eviction over the budget: %v", err)
		}
		if d := se.Status().Details; d == nil || len(d.Causes) != 1 || d.Causes[0].Type != policyv1.DisruptionBudgetCause ||
			d.Causes[0].Message != "The disruption budget web needs 2 healthy pods and has 2 currently" {
			t.Fatalf("direct eviction over the budget: details %+v", d)
		}

		c.MustRun(t, k, "", "uncordon", "hollow-1")
		pdbWaitAllowed(t, c.Client, 3, 1)
	}

	// A percentage is taken of the Deployment's replicas, found through the
	// pods' ReplicaSet: 34% of 3 rounds up to 2 that may be unavailable.
	c.MustRun(t, newest, "", "delete", "pdb", "web")
	c.MustRun(t, newest, "", "create", "pdb", "web", "--selector=app=web", "--max-unavailable=34%")
	pdbWaitAllowed(t, c.Client, 3, 2)
	if out := c.MustRun(t, newest, "", "get", "pdb", "web", "--no-headers"); !hasLineStarting(out, "web", "N/A", "34%", "2") {
		t.Fatalf("kubectl get pdb of a percentage: %s", out)
	}
}

// TestPDBDrainOneAtATime: with room on another node, `kubectl drain` goes
// through, evicting one pod at a time: the healthy pods, as a watch sees them
// event by event, never fall below the budget's 2.
func TestPDBDrainOneAtATime(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	pdbWebSetup(t, c, k)

	list, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range list.Items {
		perNode[p.Spec.NodeName]++
	}
	node := "hollow-1"
	if perNode["hollow-2"] > perNode["hollow-1"] {
		node = "hollow-2"
	}

	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	healthy := map[string]bool{}
	for _, p := range list.Items {
		healthy[p.Name] = pdbPodHealthy(&p)
	}
	var mu sync.Mutex
	fewest, history := 3, []string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			healthy[p.Name] = ev.Type != watch.Deleted && pdbPodHealthy(p)
			n := 0
			for _, h := range healthy {
				if h {
					n++
				}
			}
			mu.Lock()
			fewest = min(fewest, n)
			history = append(history, fmt.Sprintf("%s %s healthy=%v -> %d", ev.Type, p.Name, healthy[p.Name], n))
			mu.Unlock()
		}
	}()

	out, errOut, err := c.Run(k, "", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=50s")
	t.Logf("kubectl drain %s (%d pods there):\n%s%s", node, perNode[node], out, errOut)
	if err != nil || !strings.Contains(out, "node/"+node+" drained") {
		t.Fatalf("kubectl drain %s: %v\n%s%s", node, err, out, errOut)
	}
	if perNode[node] > 1 && !strings.Contains(errOut, pdbViolates) {
		t.Fatalf("kubectl drain of %d pods never waited for the budget:\n%s%s", perNode[node], out, errOut)
	}
	eventually(t, "3 healthy pods again", 30*time.Second, func() (bool, string) {
		h := pdbHealthy(t, c.Client)
		return len(h) == 3, fmt.Sprint(h)
	})
	w.Stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if fewest < 2 {
		t.Fatalf("the healthy pods fell to %d during the drain:\n%s", fewest, strings.Join(history, "\n"))
	}
}
