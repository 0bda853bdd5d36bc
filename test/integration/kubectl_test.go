package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// allKubectls is every real kubectl plus the one built into skiff.
func allKubectls(t *testing.T) []harness.Kubectl {
	return append(harness.Kubectls(t), harness.BuiltinKubectl(t))
}

// TestKubectlExperience runs the everyday kubectl commands of issue 3 with each
// kubectl, each in its own namespace, asserting what the user sees.
func TestKubectlExperience(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	for _, k := range allKubectls(t) {
		k := k
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "kx-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }
			fail := func(args ...string) string {
				t.Helper()
				out, errOut, err := c.Run(k, "", args...)
				if err == nil {
					t.Fatalf("kubectl %s should fail; stdout:\n%s", strings.Join(args, " "), out)
				}
				return errOut
			}
			run("create", "namespace", ns)

			// explain, through OpenAPI v3 and v2.
			mustContain(t, "explain pods", run("explain", "pods"), "KIND:", "Pod", "VERSION:", "v1", "Pod is a collection of containers")
			mustContain(t, "explain pod.spec", run("explain", "pod.spec"), "Specification of the desired behavior of the pod", "containers", "restartPolicy")
			mustContain(t, "explain ports", run("explain", "pod.spec.containers.ports"), "containerPort", "Number of port to expose on the pod's IP address")
			mustContain(t, "explain rc.spec", run("explain", "rc.spec"), "replicas", "selector", "template")
			mustContain(t, "explain svc.spec.type", run("explain", "svc.spec.type"), "type determines how the Service is exposed")
			mustContain(t, "explain v2", run("explain", "pod.spec", "--output=plaintext-openapiv2"), "RESOURCE: spec <Object>", "containers")

			// Strict validation: unknown and duplicate fields are refused, nothing stored.
			bad := writeFile(t, "bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containerz: []\n  containers:\n  - name: c\n    image: i\n")
			mustContain(t, "unknown field", fail("create", "-f", bad, "-n", ns), `unknown field "spec.containerz"`)
			// kubectl collapses duplicate keys of a manifest before sending (against
			// upstream too), so the server's duplicate check is reached with --raw.
			dup := writeFile(t, "dup.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup","name":"dup2"},"spec":{"containers":[{"name":"c","image":"i"}]}}`)
			mustContain(t, "duplicate field", fail("create", "--raw", "/api/v1/namespaces/"+ns+"/pods?fieldValidation=Strict", "-f", dup), `duplicate field "metadata.name"`)
			if _, errOut, _ := c.Run(k, "", "get", "pods", "-n", ns); !strings.Contains(errOut, "No resources found") {
				t.Fatalf("a refused create stored something: %s", errOut)
			}
			mustContain(t, "--validate=false", run("create", "-f", bad, "-n", ns, "--validate=false"), "pod/bad created")

			// apply: create, update, prune a removed field.
			v1 := writeFile(t, "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels:\n    tier: web\ndata:\n  a: \"1\"\n  b: \"2\"\n")
			mustContain(t, "apply create", run("apply", "-f", v1, "-n", ns), "configmap/app created")
			v2 := writeFile(t, "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels:\n    tier: web\ndata:\n  a: \"10\"\n")
			mustContain(t, "apply update", run("apply", "-f", v2, "-n", ns), "configmap/app configured")
			y := run("get", "cm", "app", "-n", ns, "-o", "yaml")
			mustContain(t, "applied", y, `a: "10"`, "kubectl.kubernetes.io/last-applied-configuration")
			if strings.Contains(y, `b: "2"`) {
				t.Fatalf("apply did not prune data.b:\n%s", y)
			}
			mustContain(t, "apply unchanged", run("apply", "-f", v2, "-n", ns), "configmap/app unchanged")

			// Server-side apply is answered 415, which kubectl reports plainly.
			mustContain(t, "apply --server-side", fail("apply", "--server-side", "-f", v2, "-n", ns), "Server-side apply not available on the server")

			// patch, all three types; replace.
			mustContain(t, "patch strategic", run("patch", "cm", "app", "-n", ns, "-p", `{"data":{"s":"x"}}`), "configmap/app patched")
			mustContain(t, "patch merge", run("patch", "cm", "app", "-n", ns, "--type", "merge", "-p", `{"data":{"m":"y"}}`), "configmap/app patched")
			mustContain(t, "patch json", run("patch", "cm", "app", "-n", ns, "--type", "json", "-p", `[{"op":"add","path":"/data/j","value":"z"}]`), "configmap/app patched")
			mustContain(t, "patched values", run("get", "cm", "app", "-n", ns, "-o", "jsonpath={.data.s}{.data.m}{.data.j}"), "xyz")
			repl := writeFile(t, "repl.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  only: one\n")
			mustContain(t, "replace", run("replace", "-f", repl, "-n", ns), "configmap/app replaced")
			mustContain(t, "replaced", run("get", "cm", "app", "-n", ns, "-o", "jsonpath={.data}"), `"only":"one"`)

			// edit, with an editor that rewrites a value.
			editor := writeFile(t, "editor.sh", "#!/bin/sh\nsed -i 's/only: one/only: edited/' \"$1\"\n")
			os.Chmod(editor, 0o755)
			out, errOut, err := c.RunEnv(k, []string{"EDITOR=" + editor, "KUBE_EDITOR=" + editor}, "", "edit", "cm", "app", "-n", ns)
			if err != nil || !strings.Contains(out, "configmap/app edited") {
				t.Fatalf("edit: %v\n%s\n%s", err, out, errOut)
			}
			mustContain(t, "edited", run("get", "cm", "app", "-n", ns, "-o", "jsonpath={.data.only}"), "edited")

			// An RC, scaled through the scale subresource, exposed as a Service.
			rc := writeFile(t, "rc.yaml", "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: kubia\nspec:\n  replicas: 1\n  selector:\n    app: kubia\n  template:\n    metadata:\n      labels:\n        app: kubia\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n        ports:\n        - containerPort: 8080\n")
			run("create", "-f", rc, "-n", ns)
			mustContain(t, "scale", run("scale", "rc", "kubia", "--replicas=3", "-n", ns), "replicationcontroller/kubia scaled")
			mustContain(t, "scaled", run("get", "rc", "kubia", "-n", ns, "-o", "jsonpath={.spec.replicas}"), "3")
			mustContain(t, "expose rc", run("expose", "rc", "kubia", "--type=LoadBalancer", "--name", "kubia-http", "-n", ns), "service/kubia-http exposed")
			svc := run("get", "svc", "kubia-http", "-n", ns, "-o", "jsonpath={.spec.selector.app} {.spec.ports[0].port} {.spec.ports[0].nodePort} {.spec.clusterIP}")
			if f := strings.Fields(svc); len(f) != 4 || f[0] != "kubia" || f[1] != "8080" || !strings.HasPrefix(f[3], "10.43.") {
				t.Fatalf("exposed service = %q", svc)
			}
			run("create", "-f", "testdata/kubia-manual-with-labels.yaml", "-n", ns)
			mustContain(t, "expose pod", run("expose", "pod", "kubia-manual-v2", "--port=80", "--target-port=8080", "--name=manual", "-n", ns), "service/manual exposed")
			mustContain(t, "expose pod selector", run("get", "svc", "manual", "-n", ns, "-o", "jsonpath={.spec.selector}"), `"creation_method":"manual"`)

			// wait for a condition and for deletion.
			run("label", "ns", ns, "ready=yes")
			setPodReady(t, c, ns, "bad")
			mustContain(t, "wait --for=condition", run("wait", "--for=condition=Ready", "pod/bad", "-n", ns, "--timeout=20s"), "pod/bad condition met")
			run("delete", "pod", "bad", "-n", ns, "--wait=false")
			mustContain(t, "wait --for=delete", run("wait", "--for=delete", "pod/bad", "-n", ns, "--timeout=20s"), "")

			// describe, with its sections.
			mustContain(t, "describe pod", run("describe", "pod", "kubia-manual-v2", "-n", ns), "Name:", "kubia-manual-v2", "Namespace:", ns, "Labels:", "creation_method=manual", "Containers:", "kubia:", "Image:", "luksa/kubia", "Events:")
			mustContain(t, "describe rc", run("describe", "rc", "kubia", "-n", ns), "Selector:", "app=kubia", "Replicas:", "3 desired", "Pod Template:", "Events:")
			mustContain(t, "describe svc", run("describe", "svc", "kubia-http", "-n", ns), "Type:", "LoadBalancer", "IP:", "Port:", "8080/TCP", "NodePort:", "Events:")
			mustContain(t, "describe ns", run("describe", "ns", ns), "Status:", "Active", "ready=yes")

			if k.Version == "skiff" {
				// The seed's legacy generator, only in the built-in kubectl.
				mustContain(t, "run/v1", run("run", "gen", "--image=luksa/kubia", "--port=8080", "--generator=run/v1", "-n", ns), "replicationcontroller/gen created")
				rcJSON := run("get", "rc", "gen", "-n", ns, "-o", "jsonpath={.spec.replicas} {.spec.selector.run} {.spec.template.metadata.labels.run} {.spec.template.spec.containers[0].name} {.spec.template.spec.containers[0].ports[0].containerPort}")
				if rcJSON != "1 gen gen gen 8080" {
					t.Fatalf("run/v1 RC = %q", rcJSON)
				}
				mustContain(t, "run-pod/v1", run("run", "genpod", "--image=luksa/kubia", "--generator=run-pod/v1", "-n", ns), "pod/genpod created")
				mustContain(t, "bad generator", fail("run", "x", "--image=y", "--generator=deployment/v1", "-n", ns), `generator "deployment/v1" is not supported; supported generators: run/v1 (ReplicationController), run-pod/v1 (Pod)`)
			}

			// the discovery-driven commands.
			mustContain(t, "api-resources", run("api-resources"), "pods", "po", "replicationcontrollers", "rc", "services", "svc", "namespaces", "ns", "leases", "coordination.k8s.io/v1")
			mustContain(t, "api-versions", run("api-versions"), "v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1")
			mustContain(t, "version", run("version"), "Server Version", "v1.33.0+skiff")
			mustContain(t, "cluster-info", run("cluster-info"), "Kubernetes control plane", "is running at", c.Config.Host)
			all := run("get", "all", "-n", ns)
			mustContain(t, "get all", all, "pod/kubia-manual-v2", "service/kubia-http", "replicationcontroller/kubia")
		})
	}
}

// setPodReady writes a Ready condition through the status subresource, as a node
// agent would.
func setPodReady(t *testing.T, c *harness.Cluster, ns, name string) {
	t.Helper()
	ctx := context.Background()
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
