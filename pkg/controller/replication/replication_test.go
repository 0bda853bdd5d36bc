package replication_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/util/retry"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/replication"
	"github.com/skiffhq/skiff/test/harness"
)

const ns = "default"

// start runs a control plane with the ReplicationManager alone.
func start(t *testing.T, opts replication.Options) *harness.Cluster {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	rm := replication.New(c.Client, factory, opts)
	controllertest.Run(t, factory, rm)
	return c
}

func newRC(name string, n int32, selector, template map[string]string) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &n,
			Selector: selector,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: template},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name, Image: "luksa/kubia", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
}

func createRC(t *testing.T, c *harness.Cluster, rc *corev1.ReplicationController) *corev1.ReplicationController {
	t.Helper()
	out, err := c.Client.CoreV1().ReplicationControllers(ns).Create(context.Background(), rc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating RC %s: %v", rc.Name, err)
	}
	return out
}

func listPods(t *testing.T, c *harness.Cluster, selector string) []corev1.Pod {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	return list.Items
}

// activePods are the pods not being deleted and not finished.
func activePods(t *testing.T, c *harness.Cluster, selector string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range listPods(t, c, selector) {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			out = append(out, p)
		}
	}
	return out
}

func names(pods []corev1.Pod) string {
	var s []string
	for _, p := range pods {
		s = append(s, p.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// waitPods waits until exactly n active pods match the selector.
func waitPods(t *testing.T, c *harness.Cluster, selector string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	controllertest.Eventually(t, fmt.Sprintf("%d pods matching %q", n, selector), func() (bool, string) {
		pods = activePods(t, c, selector)
		return len(pods) == n, fmt.Sprintf("%d pods: %s", len(pods), names(pods))
	})
	return pods
}

// waitStatus waits until the RC's status has caught up with its spec.
func waitStatus(t *testing.T, c *harness.Cluster, name string, ok func(*corev1.ReplicationController) bool) *corev1.ReplicationController {
	t.Helper()
	var rc *corev1.ReplicationController
	controllertest.Eventually(t, "RC "+name+" status", func() (bool, string) {
		var err error
		rc, err = c.Client.CoreV1().ReplicationControllers(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rc.Status.ObservedGeneration == rc.Generation && ok(rc), fmt.Sprintf("generation %d, status %+v", rc.Generation, rc.Status)
	})
	return rc
}

func controllerOf(p *corev1.Pod) *metav1.OwnerReference { return metav1.GetControllerOf(p) }

var podName = regexp.MustCompile(`^kubia-[a-z0-9]{5}$`)

func TestCreatesPodsFromTemplate(t *testing.T) {
	c := start(t, replication.Options{})
	rc := createRC(t, c, newRC("kubia", 3, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	pods := waitPods(t, c, "app=kubia", 3)
	for _, p := range pods {
		if !podName.MatchString(p.Name) || p.GenerateName != "kubia-" {
			t.Errorf("pod name %q (generateName %q), want kubia-xxxxx", p.Name, p.GenerateName)
		}
		want := metav1.OwnerReference{APIVersion: "v1", Kind: "ReplicationController", Name: "kubia", UID: rc.UID,
			Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
		if len(p.OwnerReferences) != 1 || !equalRef(p.OwnerReferences[0], want) {
			t.Errorf("pod %s ownerReferences = %+v, want [%+v]", p.Name, p.OwnerReferences, want)
		}
		if p.Labels["app"] != "kubia" || p.Spec.Containers[0].Image != "luksa/kubia" {
			t.Errorf("pod %s not from the template: labels %v, image %q", p.Name, p.Labels, p.Spec.Containers[0].Image)
		}
	}
	st := waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 3 })
	if st.Status.FullyLabeledReplicas != 3 || st.Status.ReadyReplicas != 0 || st.Status.AvailableReplicas != 0 {
		t.Errorf("status = %+v, want 3 replicas, 3 fully labeled, 0 ready/available", st.Status)
	}
	// Every creation is recorded on the RC, with upstream's reason and message.
	controllertest.Eventually(t, "SuccessfulCreate events", func() (bool, string) {
		evs, err := c.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.kind": "ReplicationController", "involvedObject.name": "kubia", "reason": "SuccessfulCreate"}.String()})
		if err != nil {
			return false, err.Error()
		}
		got := map[string]bool{}
		for _, e := range evs.Items {
			got[e.Message] = true
			if e.Source.Component != "replication-controller" || e.Type != corev1.EventTypeNormal {
				return false, fmt.Sprintf("event %+v", e)
			}
		}
		for _, p := range pods {
			if !got["Created pod: "+p.Name] {
				return false, fmt.Sprintf("messages %v", got)
			}
		}
		return true, ""
	})
}

// scaleTo sets spec.replicas through the scale subresource, as an autoscaler
// would: read, change, write, again if the RC moved in between.
func scaleTo(t *testing.T, c *harness.Cluster, name string, n int32) {
	t.Helper()
	rcs := c.Client.CoreV1().ReplicationControllers(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := rcs.GetScale(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = n
		_, err = rcs.UpdateScale(context.Background(), name, scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scaling %s to %d: %v", name, n, err)
	}
}

func ptr[T any](v T) *T { return &v }

func equalRef(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		a.Controller != nil && b.Controller != nil && *a.Controller == *b.Controller &&
		a.BlockOwnerDeletion != nil && b.BlockOwnerDeletion != nil && *a.BlockOwnerDeletion == *b.BlockOwnerDeletion
}

func TestScaleThroughSubresourceAndKubectl(t *testing.T) {
	c := start(t, replication.Options{})
	createRC(t, c, newRC("kubia", 1, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	waitPods(t, c, "app=kubia", 1)

	ctx := context.Background()
	scaleTo(t, c, "kubia", 5)
	waitPods(t, c, "app=kubia", 5)
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 5 })

	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	out := c.MustRun(t, k, "", "scale", "rc", "kubia", "--replicas=3")
	if strings.TrimSpace(out) != "replicationcontroller/kubia scaled" {
		t.Errorf("kubectl scale printed %q", out)
	}
	waitPods(t, c, "app=kubia", 3)
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 3 })
	if sc, err := c.Client.CoreV1().ReplicationControllers(ns).GetScale(ctx, "kubia", metav1.GetOptions{}); err != nil || sc.Status.Replicas != 3 {
		t.Errorf("scale status = %+v, %v; want 3 replicas", sc, err)
	}
	controllertest.Eventually(t, "SuccessfulDelete events", func() (bool, string) {
		evs, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=SuccessfulDelete"})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if strings.HasPrefix(e.Message, "Deleted pod: kubia-") && e.InvolvedObject.Name == "kubia" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(evs.Items))
	})
}

func TestReplacesDeletedAndFinishedPods(t *testing.T) {
	c := start(t, replication.Options{})
	createRC(t, c, newRC("kubia", 3, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	pods := waitPods(t, c, "app=kubia", 3)
	ctx := context.Background()

	gone := pods[0].Name
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	controllertest.Eventually(t, "a replacement for "+gone, func() (bool, string) {
		now := activePods(t, c, "app=kubia")
		return len(now) == 3 && !strings.Contains(names(now), gone), names(now)
	})

	failed := pods[1]
	failed.Status.Phase = corev1.PodFailed
	if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, &failed, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("failing pod: %v", err)
	}
	controllertest.Eventually(t, "a replacement for the failed pod", func() (bool, string) {
		all := listPods(t, c, "app=kubia")
		return len(all) == 4 && len(activePods(t, c, "app=kubia")) == 3, names(all)
	})
	// The failed pod stays (upstream leaves it to pod GC) but is not counted.
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 3 })
	if _, err := c.Client.CoreV1().Pods(ns).Get(ctx, failed.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("failed pod: %v", err)
	}
}

func TestRelabelledPodIsReleased(t *testing.T) {
	c := start(t, replication.Options{})
	createRC(t, c, newRC("kubia", 3, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	pods := waitPods(t, c, "app=kubia", 3)
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	name := pods[0].Name
	out := c.MustRun(t, k, "", "label", "pod", name, "app=foo", "--overwrite")
	if strings.TrimSpace(out) != "pod/"+name+" labeled" {
		t.Errorf("kubectl label printed %q", out)
	}
	controllertest.Eventually(t, name+" released", func() (bool, string) {
		p, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(p.OwnerReferences) == 0, fmt.Sprintf("ownerReferences %+v", p.OwnerReferences)
	})
	now := waitPods(t, c, "app=kubia", 3)
	if strings.Contains(names(now), name) {
		t.Errorf("pods %s still include %s", names(now), name)
	}
	if rel := listPods(t, c, "app=foo"); len(rel) != 1 || rel[0].Name != name {
		t.Errorf("app=foo pods = %s, want %s", names(rel), name)
	}
}

func orphan(name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}},
	}
}

func TestAdoptsOrphansAndCountsFullyLabeled(t *testing.T) {
	c := start(t, replication.Options{})
	ctx := context.Background()
	for _, n := range []string{"stray-1", "stray-2"} {
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, orphan(n, map[string]string{"app": "kubia"}), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", n, err)
		}
	}
	// Another app's orphan stays alone.
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, orphan("other", map[string]string{"app": "other"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc := createRC(t, c, newRC("kubia", 3, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia", "tier": "web"}))
	pods := waitPods(t, c, "app=kubia", 3)
	controllertest.Eventually(t, "orphans adopted", func() (bool, string) {
		pods = activePods(t, c, "app=kubia")
		for _, p := range pods {
			if ref := controllerOf(&p); ref == nil || ref.UID != rc.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
				return false, fmt.Sprintf("%s owners %+v", p.Name, p.OwnerReferences)
			}
		}
		return len(pods) == 3, names(pods)
	})
	if !strings.Contains(names(pods), "stray-1") || !strings.Contains(names(pods), "stray-2") {
		t.Errorf("pods %s, want both strays adopted", names(pods))
	}
	st := waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 3 })
	if st.Status.FullyLabeledReplicas != 1 {
		t.Errorf("fullyLabeledReplicas = %d, want 1 (only the created pod has tier=web)", st.Status.FullyLabeledReplicas)
	}
	other, _ := c.Client.CoreV1().Pods(ns).Get(ctx, "other", metav1.GetOptions{})
	if len(other.OwnerReferences) != 0 {
		t.Errorf("non-matching orphan adopted: %+v", other.OwnerReferences)
	}
}

func TestBurstCreatesExactlyAsMany(t *testing.T) {
	c := start(t, replication.Options{Workers: 16})
	createRC(t, c, newRC("kubia", 0, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	rc := waitStatus(t, c, "kubia", func(*corev1.ReplicationController) bool { return true })
	// Count every pod that ever appears: a sync that ran ahead of its cache
	// would create extras (and delete them again later), which a final count
	// alone would miss.
	w, err := c.Client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{ResourceVersion: rc.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var added, deleted atomic.Int32
	go func() {
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added:
				added.Add(1)
			case watch.Deleted:
				deleted.Add(1)
			}
		}
	}()
	scaleTo(t, c, "kubia", 200)
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 200 })
	waitPods(t, c, "app=kubia", 200)
	controllertest.Eventually(t, "the watch to report 200 pods", func() (bool, string) {
		return added.Load() >= 200, fmt.Sprint(added.Load())
	})
	if a, d := added.Load(), deleted.Load(); a != 200 || d != 0 {
		t.Fatalf("scaling 0→200 created %d pods and deleted %d; want exactly 200 created, none deleted", a, d)
	}
	scaleTo(t, c, "kubia", 0)
	waitPods(t, c, "app=kubia", 0)
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 0 })
	controllertest.Eventually(t, "the watch to report 200 deletions", func() (bool, string) {
		return deleted.Load() == 200, fmt.Sprint(deleted.Load())
	})
}

// setReady marks a pod Running and Ready since the given time.
func setReady(t *testing.T, c *harness.Cluster, name string, since time.Time) {
	t.Helper()
	ctx := context.Background()
	p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}
	if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("marking %s ready: %v", name, err)
	}
}

func TestReadyAndAvailableReplicas(t *testing.T) {
	c := start(t, replication.Options{})
	rc := newRC("kubia", 3, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"})
	rc.Spec.MinReadySeconds = 1
	createRC(t, c, rc)
	pods := waitPods(t, c, "app=kubia", 3)
	setReady(t, c, pods[0].Name, time.Now().Add(-time.Hour)) // long ready: available at once
	setReady(t, c, pods[1].Name, time.Now())                 // available a second later
	st := waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.ReadyReplicas == 2 })
	if st.Status.AvailableReplicas < 1 {
		t.Errorf("availableReplicas = %d with one pod ready for an hour", st.Status.AvailableReplicas)
	}
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool {
		return rc.Status.ReadyReplicas == 2 && rc.Status.AvailableReplicas == 2 && rc.Status.Replicas == 3
	})
}

func TestScaleDownDeletesTheLeastValuableFirst(t *testing.T) {
	c := start(t, replication.Options{})
	createRC(t, c, newRC("kubia", 4, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"}))
	pods := waitPods(t, c, "app=kubia", 4)
	ctx := context.Background()
	// One pod runs and is ready, one runs but is not ready, two are pending:
	// scaling to one keeps the ready one.
	setReady(t, c, pods[0].Name, time.Now().Add(-time.Minute))
	p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pods[1].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.ReadyReplicas == 1 })

	scaleTo(t, c, "kubia", 2)
	left := waitPods(t, c, "app=kubia", 2)
	if want := names([]corev1.Pod{pods[0], pods[1]}); names(left) != want {
		t.Errorf("kept %s, want the running pods %s", names(left), want)
	}
	scaleTo(t, c, "kubia", 1)
	left = waitPods(t, c, "app=kubia", 1)
	if left[0].Name != pods[0].Name {
		t.Errorf("kept %s, want the ready pod %s", left[0].Name, pods[0].Name)
	}
	for _, q := range pods[1:] {
		if _, err := c.Client.CoreV1().Pods(ns).Get(ctx, q.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pod %s: %v, want NotFound", q.Name, err)
		}
	}
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 1 })
}

func TestRCBeingDeletedCreatesAndAdoptsNothing(t *testing.T) {
	c := start(t, replication.Options{})
	ctx := context.Background()
	rc := newRC("kubia", 2, map[string]string{"app": "kubia"}, map[string]string{"app": "kubia"})
	rc.Finalizers = []string{"example.com/hold"}
	createRC(t, c, rc)
	waitPods(t, c, "app=kubia", 2)
	if err := c.Client.CoreV1().ReplicationControllers(ns).Delete(ctx, "kubia", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the RC marked deleted", func() (bool, string) {
		got, err := c.Client.CoreV1().ReplicationControllers(ns).Get(ctx, "kubia", metav1.GetOptions{})
		return err == nil && got.DeletionTimestamp != nil, fmt.Sprint(err)
	})
	pods := listPods(t, c, "app=kubia")
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, orphan("stray", map[string]string{"app": "kubia"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The status still follows the pods (1 owned left) while nothing new is made.
	waitStatus(t, c, "kubia", func(rc *corev1.ReplicationController) bool { return rc.Status.Replicas == 1 })
	all := listPods(t, c, labels.SelectorFromSet(map[string]string{"app": "kubia"}).String())
	if len(all) != 2 {
		t.Errorf("pods %s, want the survivor and the stray only", names(all))
	}
	stray, _ := c.Client.CoreV1().Pods(ns).Get(ctx, "stray", metav1.GetOptions{})
	if len(stray.OwnerReferences) != 0 {
		t.Errorf("stray adopted by an RC being deleted: %+v", stray.OwnerReferences)
	}
}
