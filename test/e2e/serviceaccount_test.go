package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/skiffhq/skiff/pkg/images"
)

// pushInClusterClient builds testdata/incluster (a client-go program using
// its pod's credentials) and pushes it as skiff-e2e/incluster:v1.
func (n *node) pushInClusterClient() {
	n.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(n.t.TempDir(), "incluster")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/incluster")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("go build testdata/incluster: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		n.t.Fatal(err)
	}
	img, err := images.Build(images.Spec{Files: []images.File{{Path: "/incluster", Mode: 0o755, Data: data}}, Dirs: []string{"tmp"}})
	if err != nil {
		n.t.Fatal(err)
	}
	host, opts := n.pushOptions()
	if err := crane.Push(img, host+"/skiff-e2e/incluster:v1", opts...); err != nil {
		n.t.Fatalf("crane push incluster: %v", err)
	}
}

// inClusterPod is a pod that runs the client once, in namespace team.
func inClusterPod(name, extra string) string {
	return `
apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, namespace: team}
spec:
  restartPolicy: Never
` + extra + `
  containers: [{name: client, image: skiff-e2e/incluster:v1, command: [/incluster]}]
`
}

// TestInClusterClientOnARealNode: a client-go program in a pod reaches the
// API server through the kubernetes Service with the credentials its pod is
// given (the kube-api-access volume: a bound token, the cluster's CA, the
// namespace), as its service account: refused to list pods until a
// RoleBinding lets it, then allowed; a pod that opts out of automounting has
// no credentials.
func TestInClusterClientOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	n.pushInClusterClient()
	n.mustKubectl("create", "namespace", "team")

	run := func(name, extra, wantPhase string) string {
		t.Helper()
		manifest := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(manifest, []byte(inClusterPod(name, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		n.mustKubectl("apply", "-f", manifest)
		n.eventually(name+" "+wantPhase, 90*time.Second, func() (bool, string) {
			out, _ := n.kubectl("get", "pod", "-n", "team", name, "-o", "jsonpath={.status.phase}")
			return out == wantPhase, out + "\n" + n.mustKubectl("describe", "pod", "-n", "team", name)
		})
		return n.mustKubectl("logs", "-n", "team", name)
	}

	// Before any binding: authenticated as the account, refused the list
	// with upstream's words.
	out := run("before", "", "Failed")
	if !strings.Contains(out, "user system:serviceaccount:team:default groups system:serviceaccounts,system:serviceaccounts:team,system:authenticated") {
		t.Errorf("the pod's identity:\n%s", out)
	}
	if want := `list: pods is forbidden: User "system:serviceaccount:team:default" cannot list resource "pods" in API group "" in the namespace "team"`; !strings.Contains(out, want) {
		t.Errorf("before the binding: %s\nwant %s", out, want)
	}
	vols := n.mustKubectl("get", "pod", "-n", "team", "before", "-o", "jsonpath={.spec.serviceAccountName} {.spec.volumes[*].name} {.spec.containers[0].volumeMounts[*].mountPath}")
	if !strings.HasPrefix(vols, "default kube-api-access-") || !strings.HasSuffix(vols, " /var/run/secrets/kubernetes.io/serviceaccount") {
		t.Errorf("account, volumes and mounts of the pod: %q", vols)
	}

	n.mustKubectl("create", "rolebinding", "team-view", "-n", "team", "--clusterrole=view", "--serviceaccount=team:default")
	out = run("after", "", "Succeeded")
	for _, want := range []string{"pod before\n", "pod after\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("after the binding, no %q in:\n%s", want, out)
		}
	}

	// automountServiceAccountToken: false leaves the pod without credentials.
	out = run("nomount", "  automountServiceAccountToken: false", "Failed")
	if !strings.Contains(out, "no in-cluster config:") {
		t.Errorf("a pod without credentials:\n%s", out)
	}
	if vols := n.mustKubectl("get", "pod", "-n", "team", "nomount", "-o", "jsonpath={.spec.volumes}"); vols != "" {
		t.Errorf("a pod that opted out has volumes %s", vols)
	}
}
