package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestCronJob drives the CronJob controller with the oldest and the newest
// real kubectl: create a cron job, read its columns, start a job from it by
// hand, and see it start its own jobs. One cron job is left to fire on the
// real clock at the next minute boundary (up to a minute's wait, shared with
// the rest of the test); the others are made to fire at once by recording a
// last run two minutes ago, which the controller treats as a missed time.
func TestCronJob(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ks := harness.Kubectls(t)
	ctx := context.Background()

	natural := ks[len(ks)-1]
	c.MustRun(t, natural, "", "create", "namespace", "cron-clock")
	c.MustRun(t, natural, "", "-n", "cron-clock", "create", "cronjob", "minute", "--image=busybox", "--schedule=*/1 * * * *", "--", "sh", "-c", "exit 0")
	minute, err := c.Client.BatchV1().CronJobs("cron-clock").Get(ctx, "minute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := minute.CreationTimestamp.Time

	for _, k := range []harness.Kubectl{ks[0], ks[len(ks)-1]} {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			ns := "cron-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string {
				t.Helper()
				return c.MustRun(t, k, "", append([]string{"-n", ns}, args...)...)
			}
			run("create", "namespace", ns)
			if out := run("create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *", "--", "sh", "-c", "exit 0"); !strings.Contains(out, "cronjob.batch/tick created") {
				t.Fatalf("create cronjob: %q", out)
			}
			out := run("get", "cronjob", "tick")
			if !hasRow(out, "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE") ||
				!hasRow(out, "tick", "*/1", "*", "*", "*", "*", "<none>", "False", "0", "<none>", anyField) {
				t.Fatalf("kubectl get cronjob:\n%s", out)
			}

			if out := run("create", "job", "manual", "--from=cronjob/tick"); !strings.Contains(out, "job.batch/manual created") {
				t.Fatalf("create job --from: %q", out)
			}
			cj, err := c.Client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			manual, err := c.Client.BatchV1().Jobs(ns).Get(ctx, "manual", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// kubectl 1.27 names the cron job as a plain owner; newer ones as the
			// controller.
			refs := manual.OwnerReferences
			if len(refs) != 1 || refs[0].Kind != "CronJob" || refs[0].Name != "tick" || refs[0].UID != cj.UID || refs[0].APIVersion != "batch/v1" ||
				manual.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" {
				t.Fatalf("manual job: owners %+v, annotations %v", manual.OwnerReferences, manual.Annotations)
			}
			if c := manual.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "busybox" || strings.Join(c[0].Command, " ") != "sh -c exit 0" {
				t.Errorf("manual job containers %+v, want the cron job's", c)
			}

			// Its last run was two minutes ago: the minute that has passed since
			// is due now.
			before := time.Now()
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cj, err := c.Client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(before.Add(-2 * time.Minute).Truncate(time.Minute)))
				_, err = c.Client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			job := cronjobWaitFired(t, c, ns, "tick", 30*time.Second)
			if want := fmt.Sprintf("tick-%d", before.Unix()/60); job.Name != want && job.Name != fmt.Sprintf("tick-%d", time.Now().Unix()/60) {
				t.Errorf("job %s, want %s (the latest minute)", job.Name, want)
			}
			if job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] == "" || job.Labels["batch.kubernetes.io/controller-uid"] == "" {
				t.Errorf("job annotations %v, labels %v", job.Annotations, job.Labels)
			}
			eventually(t, "ACTIVE 1 and a LAST SCHEDULE in kubectl get cronjob", 10*time.Second, func() (bool, string) {
				out, _, _ := c.Run(k, "", "-n", ns, "get", "cronjob", "tick", "--no-headers")
				f := strings.Fields(out)
				// tick */1 * * * * <none> False ACTIVE LAST-SCHEDULE AGE
				return len(f) == 11 && f[8] == "1" && f[9] != "<none>", out
			})
			if out := run("describe", "cronjob", "tick"); !hasRow(out, "Active", "Jobs:", job.Name) || !hasRow(out, "Schedule:", "*/1", "*", "*", "*", "*") {
				t.Errorf("kubectl describe cronjob:\n%s", out)
			}
			if out := run("get", "jobs"); !strings.Contains(out, job.Name) || !strings.Contains(out, "manual") {
				t.Errorf("kubectl get jobs:\n%s", out)
			}
			// A hand-made job the cron job controls is not one it started:
			// upstream says so in an event.
			unexpected := ptr.Deref(refs[0].Controller, false)
			eventually(t, "the cron job's events", 10*time.Second, func() (bool, string) {
				out, _, _ := c.Run(k, "", "-n", ns, "get", "events", "--field-selector", "involvedObject.name=tick")
				return strings.Contains(out, "SuccessfulCreate") && strings.Contains(out, "Created job "+job.Name) &&
					(!unexpected || strings.Contains(out, "Saw a job that the controller did not create or forgot: manual")), out
			})
		})
	}

	// The cron job left alone fires on the real clock.
	job := cronjobWaitFired(t, c, "cron-clock", "minute", time.Until(created.Add(75*time.Second)))
	if want := fmt.Sprintf("minute-%d", created.Unix()/60+1); job.Name != want {
		t.Errorf("job %s, want %s (the first minute after its creation)", job.Name, want)
	}
}

// cronjobWaitFired waits for a cron job to start a job and record it in
// status.active and lastScheduleTime, and returns the job.
func cronjobWaitFired(t *testing.T, c *harness.Cluster, ns, name string, d time.Duration) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	eventually(t, "cron job "+ns+"/"+name+" starting a job", d, func() (bool, string) {
		cj, err := c.Client.BatchV1().CronJobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		state := fmt.Sprintf("status %+v", cj.Status)
		if len(cj.Status.Active) != 1 || cj.Status.LastScheduleTime == nil {
			return false, state
		}
		ref := cj.Status.Active[0]
		j, err := c.Client.BatchV1().Jobs(ns).Get(context.Background(), ref.Name, metav1.GetOptions{})
		if err != nil {
			return false, state + "; " + err.Error()
		}
		if owner := metav1.GetControllerOf(j); owner == nil || owner.UID != cj.UID || j.UID != ref.UID {
			return false, fmt.Sprintf("%s; job owners %+v", state, j.OwnerReferences)
		}
		job = j
		return true, ""
	})
	return job
}

// TestCronJobTTLAfterFinished: a finished Job with ttlSecondsAfterFinished
// is deleted once the TTL has run out, and a running one is kept.
func TestCronJobTTLAfterFinished(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	jobs := c.Client.BatchV1().Jobs("default")
	newJob := func(name string) *batchv1.Job {
		j, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{
				Suspend:                 ptr.To(true), // no pods needed
				TTLSecondsAfterFinished: ptr.To[int32](2),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	newJob("running")
	newJob("done")
	var finished time.Time
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := jobs.Get(ctx, "done", metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		finished = now.Time
		j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
		j.Status.Conditions = append(j.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now})
		_, err = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the finished job deleted", 15*time.Second, func() (bool, string) {
		_, err := jobs.Get(ctx, "done", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// Condition times have a resolution of a second.
	if gone := time.Since(finished); gone < time.Second {
		t.Errorf("deleted %v after it finished; its TTL is 2s", gone)
	}
	if _, err := jobs.Get(ctx, "running", metav1.GetOptions{}); err != nil {
		t.Errorf("the running job: %v", err)
	}
}

// TestCronJobRunsToCompletion follows a cron job's jobs through to the end on a
// hollow node, with the Job controller running them: a scheduled job
// completes and sets lastSuccessfulTime, a second successful job (made by
// hand) pushes the older one past successfulJobsHistoryLimit, and a finished
// job with ttlSecondsAfterFinished goes away.
func TestCronJobRunsToCompletion(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1] // names the cron job as the controller of a job made --from it
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		return c.MustRun(t, k, "", args...)
	}
	run("create", "cronjob", "hist", "--image=busybox", "--schedule=0 0 1 1 *", "--", "sh", "-c", "exit 0")
	run("patch", "cronjob", "hist", "--type=merge", "-p", `{"spec":{"successfulJobsHistoryLimit":1}}`)

	// Its last run a year ago: this year's first of January is due.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cj, err := c.Client.BatchV1().CronJobs("default").Get(ctx, "hist", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(time.Now().AddDate(-1, 0, 0)))
		_, err = c.Client.BatchV1().CronJobs("default").UpdateStatus(ctx, cj, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	scheduled := time.Date(time.Now().Year(), 1, 1, 0, 0, 0, 0, time.Local)
	first := fmt.Sprintf("hist-%d", scheduled.Unix()/60)
	eventually(t, "the scheduled job completing", 60*time.Second, func() (bool, string) {
		cj, err := c.Client.BatchV1().CronJobs("default").Get(ctx, "hist", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		jobs, _, _ := c.Run(k, "", "get", "jobs")
		return len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil && strings.Contains(jobs, first),
			fmt.Sprintf("status %+v\n%s", cj.Status, jobs)
	})

	run("create", "job", "manual", "--from=cronjob/hist")
	eventually(t, "the older successful job pruned", 60*time.Second, func() (bool, string) {
		out, _, _ := c.Run(k, "", "get", "jobs", "--no-headers")
		return hasRow(out, "manual", "Complete", "1/1", anyField, anyField) && !strings.Contains(out, first), out
	})
	eventually(t, "the cron job's events", 10*time.Second, func() (bool, string) {
		out, _, _ := c.Run(k, "", "get", "events", "--field-selector", "involvedObject.name=hist")
		return strings.Contains(out, "Saw completed job: "+first+", condition: Complete") && strings.Contains(out, "Deleted job "+first), out
	})

	_, err := c.Client.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "brief"},
		Spec: batchv1.JobSpec{
			TTLSecondsAfterFinished: ptr.To[int32](1),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job with a TTL deleted after it completed", 60*time.Second, func() (bool, string) {
		j, err := c.Client.BatchV1().Jobs("default").Get(ctx, "brief", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("status %+v", j.Status)
	})
}
