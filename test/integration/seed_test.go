// Package integration drives an in-process Skiff control plane with client-go and
// with every real kubectl binary on the machine, asserting what a user would see.
package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/harness"
)

// fields splits kubectl's table output into rows of columns.
func rows(out string) [][]string {
	var r [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			r = append(r, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1))
		}
	}
	return r
}

func names(out string) []string {
	var n []string
	for i, r := range rows(out) {
		if i > 0 {
			n = append(n, r[0])
		}
	}
	return n
}

func mustContain(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("%s: want %q in output:\n%s", what, s, out)
		}
	}
}

func equalLists(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestSeedObjectCommands runs the seed's commands that need no running container
// with every real kubectl, each in its own namespace of one shared server.
func TestSeedObjectCommands(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	for _, k := range harness.Kubectls(t) {
		k := k
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "seed-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }

			mustContain(t, "create namespace", run("create", "namespace", ns), "namespace/"+ns+" created")
			mustContain(t, "create -f", run("create", "-f", "testdata/kubia-manual.yaml", "-n", ns), "pod/kubia-manual created")
			mustContain(t, "create -f labels", run("create", "-f", "testdata/kubia-manual-with-labels.yaml", "--namespace", ns), "pod/kubia-manual-v2 created")

			y := run("get", "po", "kubia-manual", "-n", ns, "-o", "yaml")
			mustContain(t, "-o yaml", y, "apiVersion: v1", "kind: Pod", "name: kubia-manual", "namespace: "+ns,
				"image: luksa/kubia", "containerPort: 8080", "restartPolicy: Always", "phase: Pending", "uid: ", "resourceVersion: ")
			var pod map[string]any
			if err := json.Unmarshal([]byte(run("get", "po", "kubia-manual", "-n", ns, "-o", "json")), &pod); err != nil {
				t.Fatalf("-o json is not JSON: %v", err)
			}
			if pod["kind"] != "Pod" || pod["metadata"].(map[string]any)["name"] != "kubia-manual" {
				t.Fatalf("-o json: got kind %v", pod["kind"])
			}

			got := rows(run("get", "pods", "-n", ns))
			if !equalLists(got[0], []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}) {
				t.Fatalf("get pods header = %q", got[0])
			}
			if len(got) != 3 || !equalLists(got[1][:4], []string{"kubia-manual", "0/1", "Pending", "0"}) {
				t.Fatalf("get pods rows = %q", got)
			}
			wide := rows(run("get", "pods", "-n", ns, "-o", "wide"))
			if !equalLists(wide[0], []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"}) {
				t.Fatalf("get pods -o wide header = %q", wide[0])
			}

			sl := rows(run("get", "po", "--show-labels", "-n", ns))
			if sl[0][len(sl[0])-1] != "LABELS" || sl[1][len(sl[1])-1] != "<none>" || sl[2][len(sl[2])-1] != "creation_method=manual,env=prod" {
				t.Fatalf("--show-labels = %q", sl)
			}
			mustContain(t, "label", run("label", "po", "kubia-manual", "creation_method=manual", "-n", ns), "pod/kubia-manual labeled")
			mustContain(t, "label --overwrite", run("label", "po", "kubia-manual-v2", "env=debug", "--overwrite", "-n", ns), "pod/kubia-manual-v2 labeled")
			if _, errOut, err := c.Run(k, "", "label", "po", "kubia-manual-v2", "env=x", "-n", ns); err == nil || !strings.Contains(errOut, "already has a value (debug)") {
				t.Fatalf("label without --overwrite should refuse: err=%v stderr=%s", err, errOut)
			}
			lc := rows(run("get", "po", "-L", "creation_method,env", "-n", ns))
			if !equalLists(lc[0], []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "CREATION_METHOD", "ENV"}) {
				t.Fatalf("-L header = %q", lc[0])
			}
			if lc[1][5] != "manual" || lc[2][5] != "manual" || lc[2][6] != "debug" {
				t.Fatalf("-L rows = %q", lc)
			}

			if n := names(run("get", "po", "-l", "creation_method=manual", "-n", ns)); !equalLists(n, []string{"kubia-manual", "kubia-manual-v2"}) {
				t.Fatalf("-l creation_method=manual = %v", n)
			}
			if n := names(run("get", "po", "-l", "env", "-n", ns)); !equalLists(n, []string{"kubia-manual-v2"}) {
				t.Fatalf("-l env = %v", n)
			}
			if n := names(run("get", "po", "-l", "!env", "-n", ns)); !equalLists(n, []string{"kubia-manual"}) {
				t.Fatalf("-l '!env' = %v", n)
			}
			if n := names(run("get", "po", "-l", "env in (prod,debug)", "-n", ns)); !equalLists(n, []string{"kubia-manual-v2"}) {
				t.Fatalf("-l 'env in (prod,debug)' = %v", n)
			}

			mustContain(t, "annotate", run("annotate", "pod", "kubia-manual", "mycompany.com/someannotation=foo bar", "-n", ns), "pod/kubia-manual annotate") // 1.27 prints "annotate", later ones "annotated"
			mustContain(t, "annotation in yaml", run("get", "po", "kubia-manual", "-n", ns, "-o", "yaml"), "mycompany.com/someannotation: foo bar")

			nsRows := rows(run("get", "ns"))
			found := map[string]string{}
			for _, r := range nsRows[1:] {
				found[r[0]] = r[1]
			}
			for _, want := range []string{"default", "kube-system", "kube-public", "kube-node-lease", ns} {
				if found[want] != "Active" {
					t.Fatalf("get ns: %s not Active: %q", want, nsRows)
				}
			}
			if _, errOut, err := c.Run(k, "", "get", "po", "--namespace", "kube-system"); err != nil || !strings.Contains(errOut, "No resources found in kube-system namespace.") {
				t.Fatalf("get po --namespace kube-system: err=%v stderr=%q", err, errOut)
			}

			// get -w prints the table, then a line for a pod created afterwards.
			watchOut := watchFor(t, c, k, ns, "kubia-gpu", func() {
				run("create", "-f", "testdata/kubia-gpu.yaml", "-n", ns)
			})
			mustContain(t, "get -w", watchOut, "kubia-manual", "kubia-gpu")

			mustContain(t, "delete po", run("delete", "po", "kubia-gpu", "-n", ns), `pod "kubia-gpu" deleted`)
			mustContain(t, "delete -l", run("delete", "po", "-l", "creation_method=manual", "-n", ns),
				`pod "kubia-manual" deleted`, `pod "kubia-manual-v2" deleted`)
			run("create", "-f", "testdata/kubia-manual.yaml", "-n", ns)
			run("create", "-f", "testdata/kubia-gpu.yaml", "-n", ns)
			mustContain(t, "delete po -l r", run("delete", "po", "-l", "r", "-n", ns), `pod "kubia-gpu" deleted`)
			mustContain(t, "delete --all", run("delete", "po", "--all", "-n", ns), `pod "kubia-manual" deleted`)
			if _, errOut, _ := c.Run(k, "", "get", "pods", "-n", ns); !strings.Contains(errOut, "No resources found in "+ns+" namespace.") {
				t.Fatalf("after delete --all: %q", errOut)
			}
		})
	}
}

// watchFor runs `kubectl get po -w` until a line naming want appears.
func watchFor(t *testing.T, c *harness.Cluster, k harness.Kubectl, ns, want string, action func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Path, "--kubeconfig", c.Kubeconfig, "get", "po", "-w", "-n", ns)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var seen strings.Builder
	header := false
	for sc.Scan() {
		line := sc.Text()
		seen.WriteString(line + "\n")
		if !header {
			header = true
			action()
			continue
		}
		if strings.HasPrefix(line, want+" ") {
			return seen.String()
		}
	}
	t.Fatalf("get -w never showed %s; saw:\n%s", want, seen.String())
	return ""
}
