package deployment_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/deployment"
)

const (
	revisionAnnotation = "deployment.kubernetes.io/revision"
	historyAnnotation  = "deployment.kubernetes.io/revision-history"
	desiredAnnotation  = "deployment.kubernetes.io/desired-replicas"
	maxAnnotation      = "deployment.kubernetes.io/max-replicas"
	changeCause        = "kubernetes.io/change-cause"
	hashLabel          = "pod-template-hash"
)

func TestNewDeploymentCreatesReplicaSet(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	d := newDeployment(3, v1Image)
	d.Annotations = map[string]string{
		changeCause:                        "kubectl create deployment web --image=luksa/kubia:v1 --replicas=3",
		corev1.LastAppliedConfigAnnotation: `{"kind":"Deployment"}`,
	}
	d = e.createDeployment(d)
	e.waitSizes(3)

	rs := e.replicaSets()[0]
	if want := "web-" + v1Hash; rs.Name != want {
		t.Errorf("replica set name = %q, want %q (upstream's pod-template-hash)", rs.Name, want)
	}
	wantLabels := map[string]string{"app": "web", hashLabel: v1Hash}
	for what, got := range map[string]map[string]string{
		"labels": rs.Labels, "selector": rs.Spec.Selector.MatchLabels, "template labels": rs.Spec.Template.Labels,
	} {
		if !maps.Equal(got, wantLabels) {
			t.Errorf("replica set %s = %v, want %v", what, got, wantLabels)
		}
	}
	wantRefs := []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: d.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	if !reflect.DeepEqual(rs.OwnerReferences, wantRefs) {
		t.Errorf("ownerReferences = %+v, want %+v", rs.OwnerReferences, wantRefs)
	}
	wantAnnotations := map[string]string{
		revisionAnnotation: "1", desiredAnnotation: "3", maxAnnotation: "4", // 3 + 25% rounded up
		changeCause: d.Annotations[changeCause], // last-applied is not copied
	}
	if !maps.Equal(rs.Annotations, wantAnnotations) {
		t.Errorf("replica set annotations = %v, want %v", rs.Annotations, wantAnnotations)
	}

	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return d.Annotations[revisionAnnotation] == "1" &&
			hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetCreated", `Created new replica set "web-`+v1Hash+`"`)
	})

	e.settle()
	got := e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", `ReplicaSet "web-`+v1Hash+`" has successfully progressed.`)
	})
	want := appsv1.DeploymentStatus{
		ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
		UnavailableReplicas: 0, TerminatingReplicas: ptr.To[int32](0),
	}
	st := got.Status
	st.Conditions = nil
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	if !hasCondition(got, appsv1.DeploymentAvailable, corev1.ConditionTrue, "MinimumReplicasAvailable", "Deployment has minimum availability.") {
		t.Errorf("Available condition = %+v", condition(got, appsv1.DeploymentAvailable))
	}

	// kubectl describe shows the scaling as an event.
	controllertest.Eventually(t, "the ScalingReplicaSet event", func() (bool, string) {
		list, err := e.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range list.Items {
			seen = append(seen, ev.Reason+": "+ev.Message)
			if ev.Reason == "ScalingReplicaSet" && ev.Message == "Scaled up replica set web-"+v1Hash+" from 0 to 3" {
				return true, ""
			}
		}
		return false, strings.Join(seen, "; ")
	})
}

func TestRollingUpdateSteps(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		replicas                 int32
		maxSurge, maxUnavailable intstr.IntOrString
		// maxTotal and minAvailable are maxSurge and maxUnavailable resolved
		// as upstream rounds them (surge up, unavailable down).
		maxTotal, minAvailable int32
		// steps are the (old, new) sizes the rollout rests at until the new
		// pods become available.
		steps [][2]int32
	}{{
		name: "25% of 10", replicas: 10, maxSurge: intstr.FromString("25%"), maxUnavailable: intstr.FromString("25%"),
		maxTotal: 13, minAvailable: 8,
		steps: [][2]int32{{8, 5}, {3, 10}, {0, 10}},
	}, {
		name: "no surge, one unavailable", replicas: 10, maxSurge: intstr.FromInt32(0), maxUnavailable: intstr.FromInt32(1),
		maxTotal: 10, minAvailable: 9,
		steps: [][2]int32{{9, 1}, {8, 2}, {7, 3}, {6, 4}, {5, 5}, {4, 6}, {3, 7}, {2, 8}, {1, 9}, {0, 10}},
	}, {
		name: "one surge, none unavailable", replicas: 4, maxSurge: intstr.FromInt32(1), maxUnavailable: intstr.FromInt32(0),
		maxTotal: 5, minAvailable: 4,
		steps: [][2]int32{{4, 1}, {3, 2}, {2, 3}, {1, 4}, {0, 4}},
	}, {
		name: "50% of 3 rounds the surge up and unavailability down", replicas: 3,
		maxSurge: intstr.FromString("50%"), maxUnavailable: intstr.FromString("50%"),
		maxTotal: 5, minAvailable: 2,
		steps: [][2]int32{{2, 3}, {0, 3}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, deployment.Options{})
			d := newDeployment(tc.replicas, v1Image)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.maxSurge, MaxUnavailable: &tc.maxUnavailable}
			e.createDeployment(d)
			e.rollOut("web")

			e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Template = template(v2Image) })
			for _, step := range tc.steps {
				e.waitSizes(step[0], step[1])
				// The pods still available once the ReplicaSets have
				// their sizes: the old ones as far as they keep them,
				// the new ones that were available before this step.
				rss := e.replicaSets()
				old, cur := rss[0], rss[1]
				available := min(*old.Spec.Replicas, old.Status.AvailableReplicas) + cur.Status.AvailableReplicas
				if available < tc.minAvailable {
					t.Errorf("at %v only %d pods stay available, want at least %d", step, available, tc.minAvailable)
				}
				e.settle()
			}
			got := e.rollOut("web")
			if got.Annotations[revisionAnnotation] != "2" {
				t.Errorf("deployment revision = %q, want 2", got.Annotations[revisionAnnotation])
			}
			e.mu.Lock()
			most := e.maxSeen["web"]
			e.mu.Unlock()
			if most > tc.maxTotal {
				t.Errorf("the ReplicaSets were asked for %d pods at once, more than replicas+maxSurge = %d; writes: %v", most, tc.maxTotal, e.writes())
			}
		})
	}
}

func TestRecreateScalesOldToZeroBeforeCreatingNew(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	d := newDeployment(3, v1Image)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	e.createDeployment(d)
	e.rollOut("web")
	oldName, newName := "web-"+v1Hash, "web-"+v2Hash
	old := e.replicaSet(oldName)

	// One of the old pods is slow to terminate.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: oldName + "-abcde", Namespace: ns, Labels: old.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(old, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Template = template(v2Image) })
	e.waitSizes(0)
	// The ReplicaSet controller sees its pods deleted: none counts any more,
	// but one still runs.
	e.setStatus(oldName, 0, 0)
	e.waitObserved("web", func(d *appsv1.Deployment) bool { return d.Status.Replicas == 0 })
	if n := len(e.replicaSets()); n != 1 {
		t.Fatalf("%d replica sets while an old pod still runs, want 1; writes: %v", n, e.writes())
	}
	e.note("delete pod")
	if err := e.client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSizes(0, 3)
	e.rollOut("web")

	writes := e.writes()
	scaledDown := slices.Index(writes, "scale rs "+oldName+" 0")
	deleted := slices.Index(writes, "delete pod")
	created := slices.Index(writes, "create rs "+newName+" 3")
	if scaledDown < 0 || deleted < 0 || created < 0 || !(scaledDown < deleted && deleted < created) {
		t.Errorf("want the old replica set scaled to 0, its last pod gone, then the new one created at full size; writes: %v", writes)
	}
}

func TestPausedDeploymentDoesNotRoll(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	e.createDeployment(newDeployment(3, v1Image))
	e.rollOut("web")

	e.updateDeployment("web", func(d *appsv1.Deployment) {
		d.Spec.Paused = true // kubectl rollout pause
		d.Spec.Template = template(v2Image)
	})
	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionUnknown, "DeploymentPaused", "Deployment is paused")
	})
	// Paused, it still scales.
	e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) })
	e.waitSizes(5)
	e.waitObserved("web", func(*appsv1.Deployment) bool { return true })
	if rss := e.replicaSets(); len(rss) != 1 {
		t.Fatalf("paused deployment rolled out: replica sets %s", e.sizesNow())
	}

	e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Paused = false }) // kubectl rollout resume
	got := e.rollOut("web")
	e.waitSizes(0, 5)
	if got.Annotations[revisionAnnotation] != "2" {
		t.Errorf("deployment revision = %q after resuming, want 2", got.Annotations[revisionAnnotation])
	}
}

func TestProportionalScalingDuringRollout(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	e.createDeployment(newDeployment(10, v1Image))
	e.rollOut("web")
	e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Template = template(v2Image) })
	e.waitSizes(8, 5)
	// The new pods never become available: the rollout is stuck there.
	e.setStatus("web-"+v1Hash, 8, 8)
	e.setStatus("web-"+v2Hash, 5, 0)

	for _, step := range []struct {
		replicas, old, new int32
		maxReplicas        string
	}{
		// 13 pods asked for (10 + surge 3) become 25 (20 + 5): each keeps
		// its share, rounded: 8*25/13 = 15.4 and 5*25/13 = 9.6.
		{replicas: 20, old: 15, new: 10, maxReplicas: "25"},
		// 25 become 7 (5 + 2): 15*7/25 = 4.2, 10*7/25 = 2.8.
		{replicas: 5, old: 4, new: 3, maxReplicas: "7"},
		// 7 become 13 (10 + 3): 4*13/7 = 7.4, 3*13/7 = 5.6.
		{replicas: 10, old: 7, new: 6, maxReplicas: "13"},
	} {
		e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(step.replicas) })
		e.waitSizes(step.old, step.new)
		for _, rs := range e.replicaSets() {
			if got, want := rs.Annotations[desiredAnnotation], fmt.Sprint(step.replicas); got != want {
				t.Errorf("scaled to %d: %s desired-replicas = %q, want %q", step.replicas, rs.Name, got, want)
			}
			if got := rs.Annotations[maxAnnotation]; got != step.maxReplicas {
				t.Errorf("scaled to %d: %s max-replicas = %q, want %q", step.replicas, rs.Name, got, step.maxReplicas)
			}
		}
	}
}

func TestRevisionHistoryLimitDeletesOldestEmptyReplicaSets(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	d := newDeployment(1, "img:1")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](2)
	e.createDeployment(d)
	e.rollOut("web")
	for i := 2; i <= 5; i++ {
		e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Template = template(fmt.Sprintf("img:%d", i)) })
		e.rollOut("web")
	}
	controllertest.Eventually(t, "old revisions cleaned up", func() (bool, string) {
		var revisions []string
		for _, rs := range e.replicaSets() {
			revisions = append(revisions, rs.Annotations[revisionAnnotation])
		}
		return slices.Equal(revisions, []string{"3", "4", "5"}), fmt.Sprintf("revisions %v", revisions)
	})
	if got := e.deployment("web").Annotations[revisionAnnotation]; got != "5" {
		t.Errorf("deployment revision = %q, want 5", got)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, deployment.Options{Clock: clk})
	d := newDeployment(2, v1Image)
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
	e.createDeployment(d)
	name := "web-" + v1Hash
	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetCreated", `Created new replica set "`+name+`"`)
	})

	// The pods are created, and never become ready.
	e.setStatus(name, 2, 0)
	got := e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "ReplicaSetUpdated", `ReplicaSet "`+name+`" is progressing.`)
	})
	lastProgress := condition(got, appsv1.DeploymentProgressing).LastUpdateTime

	controllertest.Eventually(t, "the progress deadline to pass", func() (bool, string) {
		clk.Step(500 * time.Millisecond)
		got = e.deployment("web")
		return hasCondition(got, appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded", `ReplicaSet "`+name+`" has timed out progressing.`),
			fmt.Sprintf("now %v, conditions %+v", clk.Now(), got.Status.Conditions)
	})
	if after := condition(got, appsv1.DeploymentProgressing).LastUpdateTime.Sub(lastProgress.Time); after < 10*time.Second {
		t.Errorf("timed out %v after the last progress, before the 10s deadline", after)
	}
	if !hasCondition(got, appsv1.DeploymentAvailable, corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.") {
		t.Errorf("Available condition = %+v", condition(got, appsv1.DeploymentAvailable))
	}

	// Pods that come up late still complete the rollout.
	e.setStatus(name, 2, 2)
	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", `ReplicaSet "`+name+`" has successfully progressed.`)
	})
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	d := newDeployment(3, v1Image)
	d.Annotations = map[string]string{changeCause: "v1"}
	e.createDeployment(d)
	e.rollOut("web")
	e.updateDeployment("web", func(d *appsv1.Deployment) {
		d.Spec.Template = template(v2Image)
		d.Annotations[changeCause] = "v2"
	})
	e.rollOut("web")
	v1RS, v2RS := "web-"+v1Hash, "web-"+v2Hash

	// kubectl rollout undo: revision 1's template (without its hash) and
	// annotations go back into the Deployment.
	old := e.replicaSet(v1RS)
	e.updateDeployment("web", func(d *appsv1.Deployment) {
		t := old.Spec.Template.DeepCopy()
		delete(t.Labels, hashLabel)
		d.Spec.Template = *t
		d.Annotations[changeCause] = old.Annotations[changeCause]
	})
	got := e.rollOut("web")
	e.waitSizes(3, 0) // oldest first: v1's ReplicaSet was created first
	if rss := e.replicaSets(); rss[0].Name != v1RS {
		t.Fatalf("replica sets %s: want %s reused", e.sizesNow(), v1RS)
	}
	if got.Annotations[revisionAnnotation] != "3" || got.Annotations[changeCause] != "v1" {
		t.Errorf("deployment annotations = %v, want revision 3 and change-cause v1", got.Annotations)
	}
	rs := e.replicaSet(v1RS)
	if rs.Annotations[revisionAnnotation] != "3" || rs.Annotations[historyAnnotation] != "1" {
		t.Errorf("%s annotations = %v, want revision 3, revision-history 1", v1RS, rs.Annotations)
	}

	t.Run("deprecated rollbackTo annotation", func(t *testing.T) {
		e.updateDeployment("web", func(d *appsv1.Deployment) { d.Annotations[appsv1.DeprecatedRollbackTo] = "0" })
		got := e.waitObserved("web", func(d *appsv1.Deployment) bool {
			_, pending := d.Annotations[appsv1.DeprecatedRollbackTo]
			return !pending && d.Spec.Template.Spec.Containers[0].Image == v2Image
		})
		if got.Annotations[changeCause] != "v2" {
			t.Errorf("change-cause = %q after rolling back to revision 2, want v2", got.Annotations[changeCause])
		}
		e.rollOut("web")
		rs := e.replicaSet(v2RS)
		if rs.Annotations[revisionAnnotation] != "4" || rs.Annotations[historyAnnotation] != "2" || *rs.Spec.Replicas != 3 {
			t.Errorf("%s: replicas %d, annotations %v; want 3, revision 4, revision-history 2", v2RS, *rs.Spec.Replicas, rs.Annotations)
		}
	})
}

func TestRestartStartsRollout(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	e.createDeployment(newDeployment(2, v1Image))
	e.rollOut("web")
	// kubectl rollout restart
	e.updateDeployment("web", func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
	})
	got := e.rollOut("web")
	e.waitSizes(0, 2)
	rs := e.replicaSets()[1]
	if rs.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || rs.Annotations[revisionAnnotation] != "2" {
		t.Errorf("new replica set %s: template annotations %v, revision %q", rs.Name, rs.Spec.Template.Annotations, rs.Annotations[revisionAnnotation])
	}
	if got.Annotations[revisionAnnotation] != "2" {
		t.Errorf("deployment revision = %q, want 2", got.Annotations[revisionAnnotation])
	}
}

func TestAdoptReleaseAndHashCollision(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	// Left behind by a Deployment deleted with --cascade=orphan.
	name := "web-" + v1Hash
	labels := map[string]string{"app": "web", hashLabel: v1Hash}
	orphanTemplate := template(v1Image)
	orphanTemplate.Labels = labels
	orphan, err := e.client.AppsV1().ReplicaSets(ns).Create(context.Background(), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: orphanTemplate,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.setStatus(name, 3, 3)

	d := e.createDeployment(newDeployment(3, v1Image))
	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return rolledOut(d) && d.Annotations[revisionAnnotation] == "1" &&
			hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", `ReplicaSet "`+name+`" has successfully progressed.`)
	})
	adopted := e.replicaSet(name)
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != d.UID || adopted.UID != orphan.UID {
		t.Fatalf("replica set %s (uid %s): controller %+v, want the orphan (uid %s) adopted by the deployment", name, adopted.UID, ref, orphan.UID)
	}
	if adopted.Annotations[revisionAnnotation] != "1" {
		t.Errorf("adopted replica set annotations = %v, want revision 1", adopted.Annotations)
	}
	if n := len(e.replicaSets()); n != 1 {
		t.Fatalf("%d replica sets after adoption, want 1: %s", n, e.sizesNow())
	}

	// Relabelled out of the selector, it is released; the template needs a
	// new ReplicaSet, whose name is taken: collisionCount goes to 1, and the
	// hash with it.
	if _, err := e.client.AppsV1().ReplicaSets(ns).Patch(context.Background(), name, types.StrategicMergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitObserved("web", func(d *appsv1.Deployment) bool { return ptr.Deref(d.Status.CollisionCount, 0) == 1 })
	controllertest.Eventually(t, "the released replica set and a new one", func() (bool, string) {
		released := e.replicaSet(name)
		rss := e.replicaSets()
		if metav1.GetControllerOf(released) != nil || len(rss) != 2 {
			return false, fmt.Sprintf("released owners %+v; replica sets %s", released.OwnerReferences, e.sizesNow())
		}
		fresh := rss[1]
		ref := metav1.GetControllerOf(&fresh)
		return fresh.Name == "web-"+v1HashCollision1 && ref != nil && ref.UID == d.UID, e.sizesNow()
	})
}

func TestFoundNewReplicaSetOnceADeadlineIsSet(t *testing.T) {
	e := newEnv(t, deployment.Options{})
	d := newDeployment(2, v1Image)
	d.Spec.ProgressDeadlineSeconds = nil // no deadline: no Progressing condition
	e.createDeployment(d)
	got := e.rollOut("web")
	if c := condition(got, appsv1.DeploymentProgressing); c != nil {
		t.Fatalf("Progressing condition %+v without a progress deadline", c)
	}
	e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600) })
	e.waitObserved("web", func(d *appsv1.Deployment) bool {
		return hasCondition(d, appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", `ReplicaSet "web-`+v1Hash+`" has successfully progressed.`)
	})
	// On the way it recorded when it found the ReplicaSet, as upstream does.
	want := []string{"deployment web Progressing FoundNewReplicaSet: Found new replica set \"web-" + v1Hash + "\"", "deployment web Progressing NewReplicaSetAvailable: ReplicaSet \"web-" + v1Hash + "\" has successfully progressed."}
	var written []string
	for _, w := range e.writes() {
		if strings.HasPrefix(w, "deployment web Progressing") {
			written = append(written, w)
		}
	}
	if !slices.Equal(written, want) {
		t.Errorf("Progressing conditions written: %q, want %q", written, want)
	}
}
