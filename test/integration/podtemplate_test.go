package integration

import (
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

const podTemplateYAML = `apiVersion: v1
kind: PodTemplate
metadata:
  name: web
template:
  metadata:
    labels:
      app: web
  spec:
    containers:
    - name: nginx
      image: nginx:1.27
    - name: sidecar
      image: busybox
`

// TestPodTemplateWithKubectl serves core/v1 PodTemplate, the first kind added
// to a group by adding one file, to every kubectl: discovery, explain, create,
// get (plain and wide), describe, generation, a refused template and delete.
func TestPodTemplateWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "pt-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }
			run("create", "namespace", ns)

			resources := run("api-resources", "--api-group=")
			if !hasLine(resources, "podtemplates", "v1", "true", "PodTemplate") {
				t.Fatalf("api-resources lacks podtemplates:\n%s", resources)
			}
			mustContain(t, "explain podtemplate", run("explain", "podtemplate"), "KIND:", "PodTemplate", "VERSION:", "v1", "template")
			mustContain(t, "explain template.spec", run("explain", "podtemplate.template.spec"), "containers", "restartPolicy")

			mustContain(t, "create", run("create", "-f", writeFile(t, "pt.yaml", podTemplateYAML), "-n", ns), "podtemplate/web created")
			for _, args := range [][]string{{"get", "podtemplates"}, {"get", "podtemplate", "web", "-o", "wide"}} {
				out := run(append(args, "-n", ns)...)
				// Upstream's columns, all of them shown without -o wide too, and no AGE.
				if !hasLine(out, "NAME", "CONTAINERS", "IMAGES", "POD", "LABELS") ||
					!hasLine(out, "web", "nginx,sidecar", "nginx:1.27,busybox", "app=web") {
					t.Fatalf("kubectl %s:\n%s", strings.Join(args, " "), out)
				}
			}
			// kubectl has no describer of its own for pod templates: it prints
			// the object's fields, as it does against any cluster.
			mustContain(t, "describe", run("describe", "podtemplate", "web", "-n", ns),
				"Name:", "web", "Namespace:", ns, "Kind:", "PodTemplate", "Template:", "App:", "web",
				"Image:", "nginx:1.27", "Name:", "sidecar", "Restart Policy:", "Always")

			// metadata.generation moves with the template and nothing else.
			generation := func() string {
				return run("get", "podtemplate", "web", "-n", ns, "-o", "jsonpath={.metadata.generation}")
			}
			if g := generation(); g != "1" {
				t.Fatalf("generation after create = %q, want 1", g)
			}
			run("label", "podtemplate", "web", "team=a", "-n", ns)
			if g := generation(); g != "1" {
				t.Fatalf("generation after labelling the object = %q, want 1", g)
			}
			run("patch", "podtemplate", "web", "-n", ns, "-p", `{"template":{"spec":{"restartPolicy":"Never"}}}`)
			if g := generation(); g != "2" {
				t.Fatalf("generation after changing the template = %q, want 2", g)
			}

			bad := strings.Replace(podTemplateYAML, "name: web\n", "name: bad\n", 1) + "    restartPolicy: Sometimes\n"
			_, errOut, err := c.Run(k, "", "create", "-f", writeFile(t, "bad.yaml", bad), "-n", ns)
			if err == nil {
				t.Fatal("an invalid template was created")
			}
			mustContain(t, "refused template", errOut,
				`The PodTemplate "bad" is invalid: template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`)

			mustContain(t, "delete", run("delete", "podtemplate", "web", "-n", ns), `podtemplate "web" deleted`)
			_, errOut, _ = c.Run(k, "", "get", "podtemplate", "web", "-n", ns)
			mustContain(t, "deleted", errOut, `podtemplates "web" not found`)
		})
	}
}

// TestPodTemplateInvalidIs422 checks the status a client gets for an invalid
// template: 422, reason Invalid, and the cause at upstream's field path.
func TestPodTemplateInvalidIs422(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	body := `{"apiVersion":"v1","kind":"PodTemplate","metadata":{"name":"bad"},"template":{"spec":{"containers":[{"name":"c"}]}}}`
	code, st := rawRequest(t, c, http.MethodPost, "/api/v1/namespaces/default/podtemplates", "application/json", []byte(body))
	if code != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid {
		t.Fatalf("got %d %s (%s), want 422 Invalid", code, st.Reason, st.Message)
	}
	if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "template.spec.containers[0].image" ||
		st.Details.Causes[0].Type != metav1.CauseTypeFieldValueRequired {
		t.Fatalf("causes %+v, want one: template.spec.containers[0].image Required", st.Details)
	}
	if want := `PodTemplate "bad" is invalid: template.spec.containers[0].image: Required value`; st.Message != want {
		t.Fatalf("message %q, want %q", st.Message, want)
	}
}

// hasLine reports whether some line of out has exactly these fields.
func hasLine(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
