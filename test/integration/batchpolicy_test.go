package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// anyField stands for one field of a kubectl line whose value a test cannot
// know, such as an age.
const anyField = "\x00any"

// hasRow reports whether some line of out has exactly these fields, anyField
// matching any one.
func hasRow(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		got := strings.Fields(line)
		if len(got) != len(fields) {
			continue
		}
		match := true
		for i, f := range fields {
			if f != anyField && f != got[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

const (
	badJobYAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: bad
spec:
  template:
    spec:
      restartPolicy: Always
      containers:
      - name: c
        image: busybox
`
	badPDBYAML = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: bad
spec:
  minAvailable: 1
  maxUnavailable: 1
  selector:
    matchLabels:
      app: web
`
)

// TestBatchAndPolicyWithKubectl serves batch/v1 Job and CronJob and policy/v1
// PodDisruptionBudget to every real kubectl: discovery (short names, the
// "all" category), explain, the create subcommands, the generated selector,
// a job made from a cron job, tables plain and wide, field selectors,
// generation, immutability and refused input. No controller runs: this is
// the API alone.
func TestBatchAndPolicyWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range harness.Kubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "bp-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string {
				t.Helper()
				return c.MustRun(t, k, "", append([]string{"-n", ns}, args...)...)
			}
			fail := func(args ...string) string {
				t.Helper()
				out, errOut, err := c.Run(k, "", append([]string{"-n", ns}, args...)...)
				if err == nil {
					t.Fatalf("kubectl %s should fail; stdout:\n%s", strings.Join(args, " "), out)
				}
				return errOut
			}
			run("create", "namespace", ns)

			resources := run("api-resources", "--api-group=batch")
			if !hasLine(resources, "cronjobs", "cj", "batch/v1", "true", "CronJob") || !hasLine(resources, "jobs", "batch/v1", "true", "Job") {
				t.Fatalf("api-resources --api-group=batch:\n%s", resources)
			}
			resources = run("api-resources", "--api-group=policy")
			if !hasLine(resources, "poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget") {
				t.Fatalf("api-resources --api-group=policy:\n%s", resources)
			}
			mustContain(t, "explain cronjob.spec", run("explain", "cronjob.spec"),
				"GROUP:", "batch", "KIND:", "CronJob", "VERSION:", "v1", "schedule", "jobTemplate", "timeZone", "concurrencyPolicy")
			mustContain(t, "explain job.spec.podFailurePolicy", run("explain", "job.spec.podFailurePolicy"),
				"KIND:", "Job", "rules", "PodFailurePolicyRule")
			mustContain(t, "explain pdb.spec", run("explain", "pdb.spec"), "PodDisruptionBudget", "minAvailable", "unhealthyPodEvictionPolicy")

			mustContain(t, "create job", run("create", "job", "hello", "--image=busybox", "--", "sh", "-c", "exit 0"), "job.batch/hello created")
			hello := getJob(t, run("get", "job", "hello", "-o", "json"))
			uid := string(hello.UID)
			generated := map[string]string{
				"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "hello",
				"controller-uid": uid, "job-name": "hello",
			}
			if got := metav1.FormatLabelSelector(hello.Spec.Selector); got != "batch.kubernetes.io/controller-uid="+uid {
				t.Errorf("generated selector %q", got)
			}
			if !equalMaps(hello.Spec.Template.Labels, generated) || !equalMaps(hello.Labels, generated) {
				t.Errorf("labels: template %v, job %v; want %v", hello.Spec.Template.Labels, hello.Labels, generated)
			}
			if s := hello.Spec; *s.Parallelism != 1 || *s.Completions != 1 || *s.BackoffLimit != 6 || *s.CompletionMode != batchv1.NonIndexedCompletion ||
				*s.Suspend || *s.ManualSelector || *s.PodReplacementPolicy != batchv1.TerminatingOrFailed || hello.Generation != 1 {
				t.Errorf("defaults: %+v, generation %d", s, hello.Generation)
			}

			mustContain(t, "create cronjob", run("create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *"), "cronjob.batch/tick created")
			mustContain(t, "create job --from", run("create", "job", "manual", "--from=cronjob/tick"), "job.batch/manual created")
			manual := getJob(t, run("get", "job", "manual", "-o", "json"))
			if len(manual.OwnerReferences) != 1 || manual.OwnerReferences[0].Name != "tick" || manual.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" ||
				manual.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != string(manual.UID) ||
				manual.Spec.Template.Spec.RestartPolicy != "OnFailure" {
				t.Errorf("job from cron job: %+v", manual)
			}
			mustContain(t, "create pdb", run("create", "pdb", "web", "--selector=app=web", "--min-available=1"), "poddisruptionbudget.policy/web created")

			out := run("get", "jobs,cronjobs,pdb")
			for _, row := range [][]string{
				{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"},
				{"job.batch/hello", "Running", "0/1", anyField},
				{"job.batch/manual", "Running", "0/1", anyField},
				{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"},
				{"cronjob.batch/tick", "*/1", "*", "*", "*", "*", "<none>", "False", "0", "<none>", anyField},
				{"NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"},
				{"poddisruptionbudget.policy/web", "1", "N/A", "0", anyField},
			} {
				if !hasRow(out, row...) {
					t.Fatalf("kubectl get jobs,cronjobs,pdb: no row %q in:\n%s", row, out)
				}
			}
			out = run("get", "jobs,cronjobs", "-o", "wide")
			for _, row := range [][]string{
				{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
				{"job.batch/hello", "Running", "0/1", anyField, "hello", "busybox", "batch.kubernetes.io/controller-uid=" + uid},
				{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
				{"cronjob.batch/tick", "*/1", "*", "*", "*", "*", "<none>", "False", "0", "<none>", anyField, "tick", "busybox", "<none>"},
			} {
				if !hasRow(out, row...) {
					t.Fatalf("kubectl get jobs,cronjobs -o wide: no row %q in:\n%s", row, out)
				}
			}
			// Short names, the "all" category (jobs and cron jobs, not budgets)
			// and the fields upstream lets a job be selected by.
			mustContain(t, "get cj", run("get", "cj"), "tick")
			mustContain(t, "get pdb", run("get", "pdb", "web"), "web")
			all := run("get", "all")
			mustContain(t, "get all", all, "job.batch/hello", "job.batch/manual", "cronjob.batch/tick")
			if strings.Contains(all, "poddisruptionbudget") {
				t.Errorf("get all lists budgets:\n%s", all)
			}
			mustContain(t, "field selector", run("get", "jobs", "--field-selector=status.successful=0", "-o", "name"), "job.batch/hello", "job.batch/manual")
			if out, errOut, _ := c.Run(k, "", "get", "jobs", "-n", ns, "--field-selector=status.successful=1"); strings.Contains(out, "hello") ||
				!strings.Contains(errOut, "No resources found") {
				t.Errorf("jobs with a success: %s%s", out, errOut)
			}
			mustContain(t, "describe job", run("describe", "job", "hello"), "Selector:", "batch.kubernetes.io/controller-uid="+uid, "Parallelism:", "1")
			mustContain(t, "describe cronjob", run("describe", "cronjob", "tick"), "Schedule:", "*/1 * * * *", "Concurrency Policy:", "Allow")
			mustContain(t, "describe pdb", run("describe", "pdb", "web"), "Min available:", "1", "Selector:", "app=web")

			// Generation moves with the spec; the template of a running job is fixed.
			run("label", "job", "hello", "team=a")
			run("patch", "job", "hello", "-p", `{"spec":{"parallelism":2}}`)
			if g := run("get", "job", "hello", "-o", "jsonpath={.metadata.generation}"); g != "2" {
				t.Errorf("generation after changing parallelism: %s", g)
			}
			errOut := fail("patch", "job", "hello", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"hello","image":"busybox:1.37"}]}}}}`)
			mustContain(t, "template change", errOut, `The Job "hello" is invalid: spec.template: Invalid value: `, `: field is immutable`)
			// Every update of a budget must name its resourceVersion; kubectl's do.
			run("label", "pdb", "web", "team=a")
			run("patch", "pdb", "web", "-p", `{"spec":{"minAvailable":"50%"}}`)
			mustContain(t, "patched pdb", run("get", "pdb", "web"), "50%")

			// Refused input: upstream's words, and nothing stored.
			mustContain(t, "job restarting forever", fail("create", "-f", writeFile(t, "job.yaml", badJobYAML)),
				`The Job "bad" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`)
			// kubectl create cronjob wraps the error in its own words, on any cluster.
			mustContain(t, "bad schedule", fail("create", "cronjob", "bad", "--image=busybox", "--schedule=not a schedule"),
				`error: failed to create cronjob: CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "not a schedule": expected exactly 5 fields, found 3: [not a schedule]`)
			mustContain(t, "both bounds", fail("create", "-f", writeFile(t, "pdb.yaml", badPDBYAML)),
				`The PodDisruptionBudget "bad" is invalid: spec: Invalid value: `, `minAvailable and maxUnavailable cannot be both set`)
			for _, kind := range []string{"job", "cronjob", "pdb"} {
				mustContain(t, "nothing stored", fail("get", kind, "bad"), `"bad" not found`)
			}

			mustContain(t, "delete", run("delete", "job", "hello"), `job.batch "hello" deleted`)
			mustContain(t, "delete", run("delete", "cronjob", "tick"), `cronjob.batch "tick" deleted`)
			mustContain(t, "delete", run("delete", "pdb", "web"), `poddisruptionbudget.policy "web" deleted`)
		})
	}
}

func getJob(t *testing.T, out string) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{}
	if err := json.Unmarshal([]byte(out), j); err != nil {
		t.Fatalf("decoding job: %v\n%s", err, out)
	}
	return j
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestBatchAndPolicyInvalidIs422 checks what a client gets for invalid jobs,
// cron jobs and budgets: 422, reason Invalid, the cause at upstream's field
// path, and nothing stored.
func TestBatchAndPolicyInvalidIs422(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, tc := range []struct {
		path, body, field, message string
		cause                      metav1.CauseType
	}{
		{"/apis/batch/v1/namespaces/default/jobs",
			`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"bad"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
			"spec.template.spec.restartPolicy", `Job.batch "bad" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
			metav1.CauseTypeFieldValueRequired},
		{"/apis/batch/v1/namespaces/default/cronjobs",
			`{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"bad"},"spec":{"schedule":"61 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}`,
			"spec.schedule", `CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`,
			metav1.CauseTypeFieldValueInvalid},
		{"/apis/policy/v1/namespaces/default/poddisruptionbudgets",
			`{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"bad"},"spec":{"minAvailable":"150%","selector":{"matchLabels":{"app":"web"}}}}`,
			"spec.minAvailable", `PodDisruptionBudget.policy "bad" is invalid: spec.minAvailable: Invalid value: "150%": must not be greater than 100%`,
			metav1.CauseTypeFieldValueInvalid},
	} {
		code, st := rawRequest(t, c, http.MethodPost, tc.path, "application/json", []byte(tc.body))
		if code != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid || st.Message != tc.message {
			t.Errorf("POST %s: %d %s %q\nwant 422 Invalid %q", tc.path, code, st.Reason, st.Message, tc.message)
			continue
		}
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != tc.field || st.Details.Causes[0].Type != tc.cause {
			t.Errorf("POST %s: causes %+v, want one: %s %s", tc.path, st.Details, tc.field, tc.cause)
		}
		if code, _ := rawRequest(t, c, http.MethodGet, tc.path+"/bad", "", nil); code != http.StatusNotFound {
			t.Errorf("GET %s/bad: %d, want 404: nothing stored", tc.path, code)
		}
	}

	// The status subresource: a controller's write keeps the spec and the
	// generation, a main-resource write keeps the status, and a status that
	// tells an impossible story is refused.
	ctx := context.Background()
	jobs := c.Client.BatchV1().Jobs("default")
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
	}}}}
	j.Status.Active = 5 // dropped on create
	j, err := jobs.Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 0 || j.Generation != 1 {
		t.Fatalf("created with status %+v, generation %d", j.Status, j.Generation)
	}
	now := metav1.Now()
	j.Status = batchv1.JobStatus{StartTime: &now, Active: 1, Ready: ptr.To[int32](0)}
	j.Spec.Parallelism = ptr.To[int32](3) // ignored by /status
	if j, err = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 1 || *j.Spec.Parallelism != 1 || j.Generation != 1 {
		t.Fatalf("after a status write: status %+v, parallelism %d, generation %d", j.Status, *j.Spec.Parallelism, j.Generation)
	}
	j.Status.Ready = ptr.To[int32](2)
	if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "status.ready: Invalid value: 2: cannot set more ready pods than active") {
		t.Fatalf("more ready than active: %v", err)
	}

	// A budget's updates must name the resourceVersion they read.
	pdbs := c.Client.PolicyV1().PodDisruptionBudgets("default")
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	if pdb, err = pdbs.Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb.ResourceVersion = ""
	pdb.Labels = map[string]string{"team": "a"}
	if _, err := pdbs.Update(ctx, pdb, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("unconditional budget update: %v, want 422", err)
	}
	j.ResourceVersion = "" // jobs take unconditional updates
	j.Labels["team"] = "a"
	if _, err := jobs.Update(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("unconditional job update: %v", err)
	}
}
