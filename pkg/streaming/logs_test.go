package streaming_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/streaming/streamtest"
)

func (c *chain) logs(t *testing.T, pod string, opts *corev1.PodLogOptions) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.client.CoreV1().Pods("default").GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestLogs(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	old := time.Now().Add(-2 * time.Hour).UTC()
	c.rt.AppendLog("default", "kubia", "main",
		streamtest.Record(base, "stdout", "F", "Kubia server starting...")+
			streamtest.Record(base.Add(time.Second), "stderr", "F", "a warning")+
			streamtest.Record(old, "stdout", "P", "a long line ")+
			streamtest.Record(old.Add(time.Millisecond), "stdout", "F", "in two records")+
			streamtest.Record(time.Now().UTC(), "stdout", "F", "Received request from ::ffff:10.0.0.1"))

	all := "Kubia server starting...\na warning\na long line in two records\nReceived request from ::ffff:10.0.0.1\n"
	for _, tc := range []struct {
		name string
		opts corev1.PodLogOptions
		want string
	}{
		{"all", corev1.PodLogOptions{}, all},
		{"container named", corev1.PodLogOptions{Container: "main"}, all},
		{"tail 1", corev1.PodLogOptions{TailLines: ptr.To[int64](1)}, "Received request from ::ffff:10.0.0.1\n"},
		{"tail 2 counts records", corev1.PodLogOptions{TailLines: ptr.To[int64](2)}, "in two records\nReceived request from ::ffff:10.0.0.1\n"},
		{"tail 0", corev1.PodLogOptions{TailLines: ptr.To[int64](0)}, ""},
		{"tail more than there is", corev1.PodLogOptions{TailLines: ptr.To[int64](100)}, all},
		{"limit bytes", corev1.PodLogOptions{LimitBytes: ptr.To[int64](10)}, "Kubia serv"},
		{"since seconds", corev1.PodLogOptions{SinceSeconds: ptr.To[int64](3600)}, "Received request from ::ffff:10.0.0.1\n"},
		{"since time", corev1.PodLogOptions{SinceTime: &metav1.Time{Time: base.Add(time.Second)}}, "a warning\na long line in two records\nReceived request from ::ffff:10.0.0.1\n"},
		{"timestamps", corev1.PodLogOptions{Timestamps: true, TailLines: ptr.To[int64](5), LimitBytes: ptr.To[int64](97)},
			"2024-01-01T00:00:00.000000000Z Kubia server starting...\n2024-01-01T00:00:01.000000000Z a warning\n"},
		{"timestamps once per line", corev1.PodLogOptions{Timestamps: true, SinceTime: &metav1.Time{Time: old.Add(-time.Second)}, LimitBytes: ptr.To[int64](58)},
			old.Format("2006-01-02T15:04:05.000000000Z07:00") + " a long line in two records\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.logs(t, "kubia", &tc.opts)
			if err != nil || got != tc.want {
				t.Errorf("logs %+v = %q, %v\nwant %q", tc.opts, got, err, tc.want)
			}
		})
	}
}

func TestLogsPrevious(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	_, err := c.logs(t, "kubia", &corev1.PodLogOptions{Previous: true})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `previous terminated container "main" in pod "kubia" not found`) {
		t.Errorf("previous before any restart: %v", err)
	}
	c.rt.Println("default", "kubia", "main", "stdout", "first life")
	c.rt.Restart("default", "kubia", "main")
	c.rt.Println("default", "kubia", "main", "stdout", "second life")
	if got, err := c.logs(t, "kubia", &corev1.PodLogOptions{Previous: true}); err != nil || got != "first life\n" {
		t.Errorf("previous = %q, %v", got, err)
	}
	if got, err := c.logs(t, "kubia", &corev1.PodLogOptions{}); err != nil || got != "second life\n" {
		t.Errorf("current = %q, %v", got, err)
	}
}

func TestLogsFollow(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Println("default", "kubia", "main", "stdout", "before")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc, err := c.client.CoreV1().Pods("default").GetLogs("kubia", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lines := bufio.NewReader(rc)
	next := func() string {
		t.Helper()
		l, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading followed log: %q, %v", l, err)
		}
		return l
	}
	if l := next(); l != "before\n" {
		t.Fatalf("first line %q", l)
	}
	for _, want := range []string{"appended 1", "appended 2"} {
		c.rt.Println("default", "kubia", "main", "stdout", want)
		if l := next(); l != want+"\n" {
			t.Fatalf("followed line %q, want %q", l, want)
		}
	}
	// A line split by the runtime arrives whole once its end is written.
	c.rt.AppendLog("default", "kubia", "main", streamtest.Record(time.Now(), "stdout", "P", "half "))
	time.Sleep(300 * time.Millisecond)
	c.rt.AppendLog("default", "kubia", "main", streamtest.Record(time.Now(), "stdout", "F", "and half"))
	if l := next(); l != "half and half\n" {
		t.Fatalf("followed split line %q", l)
	}
	// The container stops: what it wrote last still arrives, then the stream ends.
	c.rt.Println("default", "kubia", "main", "stdout", "last words")
	c.rt.Stop("default", "kubia", "main")
	if l := next(); l != "last words\n" {
		t.Fatalf("last line %q", l)
	}
	done := make(chan error, 1)
	go func() { _, err := lines.ReadString('\n'); done <- err }()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Errorf("after the container stopped: %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end 5s after the container stopped")
	}
}

func TestFollowEndsOnRestart(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Println("default", "kubia", "main", "stdout", "first life")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc, err := c.client.CoreV1().Pods("default").GetLogs("kubia", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	c.rt.Restart("default", "kubia", "main")
	c.rt.Println("default", "kubia", "main", "stdout", "second life")
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "first life\n" {
		t.Errorf("follow across a restart = %q, %v; want the first instance's log, then the end", b, err)
	}
}

// TestContainerSelection: the container of log and exec requests.
func TestContainerSelection(t *testing.T) {
	c := newChain(t)
	two := pod("two", "web", "sidecar")
	two.Spec.InitContainers = []corev1.Container{{Name: "init"}}
	c.running(two)
	c.rt.AddContainer("default", "two", "init")
	annotated := pod("annotated", "web", "sidecar")
	annotated.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "sidecar"}
	c.running(annotated)
	c.running(pod("one", "only"))
	for _, p := range []string{"two", "annotated", "one"} {
		for _, ct := range []string{"web", "sidecar", "init", "only"} {
			if p == "one" && ct != "only" || p != "one" && ct == "only" || p != "two" && ct == "init" {
				continue
			}
			c.rt.Println("default", p, ct, "stdout", "log of "+ct)
		}
	}
	for _, tc := range []struct {
		pod, container, want, wantErr string
	}{
		{pod: "one", want: "log of only\n"},
		{pod: "two", container: "sidecar", want: "log of sidecar\n"},
		{pod: "two", container: "init", want: "log of init\n"},
		{pod: "two", wantErr: "a container name must be specified for pod two, choose one of: [init web sidecar]"},
		{pod: "two", container: "nope", wantErr: "container nope is not valid for pod two"},
		{pod: "annotated", want: "log of sidecar\n"},
		{pod: "annotated", container: "web", want: "log of web\n"},
	} {
		got, err := c.logs(t, tc.pod, &corev1.PodLogOptions{Container: tc.container})
		if tc.wantErr != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != tc.wantErr {
				t.Errorf("logs %s -c %q: err = %v, want 400 %q", tc.pod, tc.container, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("logs %s -c %q = %q, %v; want %q", tc.pod, tc.container, got, err, tc.want)
		}
	}
	got := c.spdyExec(t, "two", "exec", &corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true}, nil, nil)
	if got.err == nil || !strings.Contains(got.err.Error(), "a container name must be specified for pod two, choose one of: [init web sidecar]") {
		t.Errorf("exec into two containers with none named: %v", got.err)
	}
	got = c.spdyExec(t, "annotated", "exec", &corev1.PodExecOptions{Command: []string{"hostname"}, Stdout: true}, nil, nil)
	reqs := c.rt.Requests()
	if got.err != nil || got.stdout != "annotated\n" || reqs[len(reqs)-1].Container != "sidecar" {
		t.Errorf("exec into the annotated pod = %+v in %q", got, reqs[len(reqs)-1].Container)
	}
}

// TestPodStates: what clients see for pods that cannot stream.
func TestPodStates(t *testing.T) {
	c := newChain(t)
	pending := pod("pending", "main")
	pending.Spec.NodeName = ""
	c.pods.addPod(pending)
	waiting := pod("waiting", "main")
	c.pods.addPod(waiting)
	c.rt.AddWaitingContainer("default", "waiting", "main")
	lost := pod("lost", "main")
	lost.Spec.NodeName = "node-2"
	c.pods.addPod(lost)
	unpublished := pod("unpublished", "main")
	unpublished.Spec.NodeName = "node-3"
	c.pods.addPod(unpublished)
	node3, _ := c.pods.GetNode(context.Background(), "node-1")
	node3.Name = "node-3"
	node3.Status.DaemonEndpoints.KubeletEndpoint.Port = 0
	c.pods.addNode(node3)

	if got, err := c.logs(t, "pending", &corev1.PodLogOptions{}); err != nil || got != "" {
		t.Errorf("logs of an unscheduled pod = %q, %v; want empty (upstream)", got, err)
	}
	got := c.spdyExec(t, "pending", "exec", &corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true}, nil, nil)
	if got.err == nil || !strings.Contains(got.err.Error(), "pod pending does not have a host assigned") {
		t.Errorf("exec into an unscheduled pod: %v", got.err)
	}
	if _, err := c.logs(t, "waiting", &corev1.PodLogOptions{}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `container "main" in pod "waiting" is waiting to start: ContainerCreating`) {
		t.Errorf("logs of a waiting container: %v", err)
	}
	if _, err := c.logs(t, "lost", &corev1.PodLogOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("logs of a pod on a missing node: %v", err)
	}
	if _, err := c.logs(t, "unpublished", &corev1.PodLogOptions{}); !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "daemonEndpoints") {
		t.Errorf("logs of a pod whose node published no port: %v", err)
	}
	if _, err := c.logs(t, "gone", &corev1.PodLogOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("logs of a missing pod: %v", err)
	}
	for _, q := range []string{"tailLines=-1", "limitBytes=0", "sinceSeconds=0", "sinceSeconds=10&sinceTime=2024-01-01T00:00:00Z"} {
		resp, err := c.front.Client().Get(c.front.URL + "/api/v1/namespaces/default/pods/waiting/log?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"kind":"Status"`) {
			t.Errorf("log?%s = %d %s; want 422 Invalid", q, resp.StatusCode, body)
		}
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodPost, "log", http.StatusMethodNotAllowed},
		{http.MethodDelete, "exec", http.StatusMethodNotAllowed},
		{http.MethodGet, "proxy", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, c.front.URL+"/api/v1/namespaces/default/pods/waiting/"+tc.path, nil)
		resp, err := c.front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s pods/%s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
	}
}
