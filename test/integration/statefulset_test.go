package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/skiffhq/skiff/test/harness"
)

const stsWebYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: kubia
        image: luksa/kubia:v1
        ports:
        - containerPort: 8080
`

// stsPodLog records, from a watch, the order in which pods were created and
// deleted, and whether each pod's predecessor was Ready when it was created.
type stsPodLog struct {
	mu      sync.Mutex
	ready   map[string]bool
	events  []string // "add web-0", "delete web-2"
	early   []string // pods created while their predecessor was not Ready
	stopped chan struct{}
}

func stsWatchPods(t *testing.T, c *harness.Cluster, ns string) *stsPodLog {
	t.Helper()
	w, err := c.Client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &stsPodLog{ready: map[string]bool{}, stopped: make(chan struct{})}
	t.Cleanup(func() { w.Stop(); <-l.stopped })
	go func() {
		defer close(l.stopped)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			l.mu.Lock()
			switch ev.Type {
			case watch.Added:
				l.events = append(l.events, "add "+pod.Name)
				if prev := stsPredecessor(pod.Name); prev != "" && !l.ready[prev] {
					l.early = append(l.early, pod.Name)
				}
			case watch.Deleted:
				l.events = append(l.events, "delete "+pod.Name)
				delete(l.ready, pod.Name)
			}
			if ev.Type != watch.Deleted {
				l.ready[pod.Name] = pod.DeletionTimestamp == nil && podutils.IsPodReady(pod)
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// stsPredecessor is web-(N-1) for web-N, "" for web-0.
func stsPredecessor(name string) string {
	i := strings.LastIndex(name, "-")
	var n int
	if _, err := fmt.Sscan(name[i+1:], &n); err != nil || n == 0 {
		return ""
	}
	return fmt.Sprintf("%s-%d", name[:i], n-1)
}

// take returns the events so far and forgets them.
func (l *stsPodLog) take() (events, early []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	events, early = l.events, l.early
	l.events, l.early = nil, nil
	return events, early
}

// waitFor waits until the log holds n events, returns them and forgets them,
// failing the test if a pod was created before its predecessor was Ready.
func (l *stsPodLog) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.events)
		l.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("timed out waiting for %d pod events; have %v", n, l.events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	events, early := l.take()
	if len(early) > 0 {
		t.Fatalf("pods %v were created before their predecessor was Ready (events %v)", early, events)
	}
	return events
}

// TestStatefulSetOrderedRollout drives a StatefulSet on hollow nodes with the
// oldest and the newest real kubectl: ordered scale up, rollout status, a
// rolling update from the highest ordinal down, history and undo, and scaling
// down in reverse order.
func TestStatefulSetOrderedRollout(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 3})
	ks := harness.Kubectls(t)
	for _, k := range []harness.Kubectl{ks[0], ks[len(ks)-1]} {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			ns := "sts-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string {
				t.Helper()
				return c.MustRun(t, k, "", append([]string{"-n", ns}, args...)...)
			}
			jsonpath := func(obj, path string) string {
				t.Helper()
				return run("get", obj, "-o", "jsonpath={"+path+"}")
			}
			run("create", "namespace", ns)
			pods := stsWatchPods(t, c, ns)

			mustContain(t, "create", run("create", "-f", writeFile(t, "web.yaml", stsWebYAML)),
				"service/web created", "statefulset.apps/web created")
			// The API server defaults rollingUpdate.partition to 0, so kubectl
			// reports a partitioned roll out, as it does against Kubernetes.
			mustContain(t, "rollout status", run("rollout", "status", "sts/web", "--timeout=90s"),
				"partitioned roll out complete: 3 new pods have been updated...")
			rev1 := jsonpath("sts/web", ".status.updateRevision")
			if !strings.HasPrefix(rev1, "web-") || jsonpath("sts/web", ".status.currentRevision") != rev1 {
				t.Fatalf("revisions after create: update %q current %q", rev1, jsonpath("sts/web", ".status.currentRevision"))
			}
			if got := strings.Join(pods.waitFor(t, 3), ", "); got != "add web-0, add web-1, add web-2" {
				t.Fatalf("pods created in order %s", got)
			}
			if out := run("get", "sts", "web"); !hasLineStarting(out, "web", "3/3") {
				t.Fatalf("get sts:\n%s", out)
			}
			for i := range 3 {
				name := fmt.Sprintf("web-%d", i)
				if h, s := jsonpath("pod/"+name, ".spec.hostname"), jsonpath("pod/"+name, ".spec.subdomain"); h != name || s != "web" {
					t.Fatalf("%s: hostname %q subdomain %q", name, h, s)
				}
				if idx := jsonpath("pod/"+name, `.metadata.labels.apps\.kubernetes\.io/pod-index`); idx != fmt.Sprint(i) {
					t.Fatalf("%s: pod-index label %q", name, idx)
				}
			}

			// A rolling update replaces pods from the highest ordinal down.
			run("set", "image", "sts/web", "kubia=luksa/kubia:v2")
			run("rollout", "status", "sts/web", "--timeout=90s")
			rev2 := jsonpath("sts/web", ".status.currentRevision")
			if rev2 == rev1 || jsonpath("sts/web", ".status.updateRevision") != rev2 {
				t.Fatalf("after set image: revisions %s -> %s", rev1, rev2)
			}
			if got := strings.Join(pods.waitFor(t, 6), ", "); got != "delete web-2, add web-2, delete web-1, add web-1, delete web-0, add web-0" {
				t.Fatalf("rolling update replaced pods in order %s", got)
			}
			for i := range 3 {
				if img := jsonpath(fmt.Sprintf("pod/web-%d", i), ".spec.containers[0].image"); img != "luksa/kubia:v2" {
					t.Fatalf("web-%d runs %s after the update", i, img)
				}
			}
			hist := run("rollout", "history", "sts/web")
			if !hasLineStarting(hist, "REVISION") || !hasLineStarting(hist, "1") || !hasLineStarting(hist, "2") {
				t.Fatalf("rollout history:\n%s", hist)
			}
			mustContain(t, "history --revision", run("rollout", "history", "sts/web", "--revision=1"), "luksa/kubia:v1")

			mustContain(t, "undo", run("rollout", "undo", "sts/web"), "statefulset.apps/web rolled back")
			run("rollout", "status", "sts/web", "--timeout=90s")
			if img := jsonpath("sts/web", ".spec.template.spec.containers[0].image"); img != "luksa/kubia:v1" {
				t.Fatalf("after undo the template runs %s", img)
			}
			// The first revision is renumbered 3 rather than copied.
			if cur := jsonpath("sts/web", ".status.currentRevision"); cur != rev1 {
				t.Fatalf("after undo the current revision is %s, want %s", cur, rev1)
			}
			if n := jsonpath("controllerrevision/"+rev1, ".revision"); n != "3" {
				t.Fatalf("revision %s is number %s after undo, want 3", rev1, n)
			}
			pods.waitFor(t, 6)

			// Scaling down removes the highest ordinals first, one at a time.
			mustContain(t, "scale", run("scale", "sts", "web", "--replicas=1"), "statefulset.apps/web scaled")
			if got := strings.Join(pods.waitFor(t, 2), ", "); got != "delete web-2, delete web-1" {
				t.Fatalf("scale down deleted pods in order %s", got)
			}
			run("rollout", "status", "sts/web", "--timeout=90s")
			if out := run("get", "sts", "web"); !hasLineStarting(out, "web", "1/1") {
				t.Fatalf("get sts after scale down:\n%s", out)
			}
			run("scale", "sts", "web", "--replicas=3")
			run("rollout", "status", "sts/web", "--timeout=90s")
			if got := strings.Join(pods.waitFor(t, 2), ", "); got != "add web-1, add web-2" {
				t.Fatalf("scale up created pods in order %s", got)
			}

			run("delete", "sts", "web")
			deadline := time.Now().Add(60 * time.Second)
			for {
				list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
				if err == nil && len(list.Items) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pods left after deleting the statefulset: %v", err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
