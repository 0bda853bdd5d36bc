package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// jobFailing is a Job whose one container always exits 2 (a hollow node runs
// `sh -c 'exit 2'` to that end at once) and which gives up after one retry.
const jobFailing = `apiVersion: batch/v1
kind: Job
metadata:
  name: bad
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "exit 2"]
`

// TestJobKubectl drives the Job controller on hollow nodes with the oldest and
// the newest real kubectl: a job that succeeds and is waited for, one that
// fails past its backoff limit, and one deleted with its pods.
func TestJobKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 2})
	ks := harness.Kubectls(t)
	for _, k := range []harness.Kubectl{ks[0], ks[len(ks)-1]} {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "job-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(stdin string, args ...string) string {
				t.Helper()
				return c.MustRun(t, k, stdin, append([]string{"-n", ns}, args...)...)
			}
			run("", "create", "namespace", ns)

			run("", "create", "job", "ok", "--image=busybox", "--", "sh", "-c", "exit 0")
			if out := run("", "wait", "--for=condition=complete", "job/ok", "--timeout=60s"); !strings.Contains(out, "job.batch/ok condition met") {
				t.Fatalf("wait for complete: %q", out)
			}
			if out := run("", "get", "job", "ok", "--no-headers"); !jobHasColumns(out, "ok", "Complete", "1/1") {
				t.Fatalf("get job ok: %q", out)
			}
			if out := run("", "get", "pods", "-l", "job-name=ok", "--no-headers"); !jobHasColumns(out, "0/1", "Completed") {
				t.Fatalf("the pod of job ok: %q", out)
			}
			jobNoFinalizers(t, c, ns, "job-name=ok")

			// Two failures (the second after the controller's 10 s back-off)
			// exceed a backoffLimit of 1.
			run(jobFailing, "apply", "-f", "-")
			if out := run("", "wait", "--for=condition=failed", "job/bad", "--timeout=90s"); !strings.Contains(out, "job.batch/bad condition met") {
				t.Fatalf("wait for failed: %q", out)
			}
			reason := run("", "get", "job", "bad", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason} {.status.failed} {.status.succeeded}`)
			if reason != "BackoffLimitExceeded 2 " && reason != "BackoffLimitExceeded 2 0" {
				t.Fatalf("job bad: Failed reason, failed and succeeded are %q, want BackoffLimitExceeded 2", reason)
			}
			if out := run("", "get", "pods", "-l", "job-name=bad", "--no-headers"); strings.Count(out, "Error") != 2 {
				t.Fatalf("pods of job bad: %q, want two in Error", out)
			}
			jobNoFinalizers(t, c, ns, "job-name=bad")

			// Deleted in the background: the garbage collector deletes the
			// pods, which lose the tracking finalizer and go.
			run("", "create", "job", "long", "--image=busybox", "--", "sleep", "3600")
			run("", "wait", "--for=condition=ready", "pod", "-l", "job-name=long", "--timeout=60s")
			run("", "delete", "job", "long", "--cascade=background")
			deadline := time.Now().Add(30 * time.Second)
			for {
				out, errOut, _ := c.Run(k, "", "-n", ns, "get", "pods", "-l", "job-name=long", "--no-headers")
				if strings.TrimSpace(out) == "" && strings.Contains(errOut, "No resources found") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pods of deleted job long still there after 30s: %q", out)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// jobHasColumns reports whether one line of out has all the fields.
func jobHasColumns(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Fields(line)
		all := true
		for _, f := range fields {
			found := false
			for _, c := range cols {
				found = found || c == f
			}
			all = all && found
		}
		if all && len(cols) > 0 {
			return true
		}
	}
	return false
}

// jobNoFinalizers fails the test when a pod the selector matches keeps the
// Job tracking finalizer once its Job is finished.
func jobNoFinalizers(t *testing.T, c *harness.Cluster, ns, selector string) {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, f := range p.Finalizers {
			if f == "batch.kubernetes.io/job-tracking" {
				t.Fatalf("pod %s keeps the finalizer %s", p.Name, f)
			}
		}
	}
}
