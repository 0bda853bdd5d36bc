package statefulset

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestOrderedScaleUpWaitsForReady(t *testing.T) {
	e := newEnv(t)
	set := newSet("web", 3)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 0}
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	e.createSet(set)

	e.eventually("web-0", e.exists("web-0"))
	e.never("web-1 created before web-0 is ready", e.exists("web-1"))
	e.markReady("web-0")
	e.eventually("web-1", e.exists("web-1"))
	e.never("web-2 created before web-1 is ready", e.exists("web-2"))
	e.markReady("web-1")
	e.eventually("web-2", e.exists("web-2"))
	e.markReady("web-2")
	e.eventually("status 3/3 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 &&
			s.CurrentReplicas == 3 && s.UpdatedReplicas == 3 && s.ObservedGeneration == 1
	}))
	if got, want := joined(e.writes()), "create web-0, create web-1, create web-2"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}

	st := e.set("web").Status
	if st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.CollisionCount == nil {
		t.Errorf("revisions in status: %+v", st)
	}
	pod := e.pod("web-1")
	for k, v := range map[string]string{
		appsv1.StatefulSetPodNameLabel:  "web-1",
		appsv1.PodIndexLabel:            "1",
		appsv1.StatefulSetRevisionLabel: st.UpdateRevision,
		"app":                           "web",
	} {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if pod.Spec.Hostname != "web-1" || pod.Spec.Subdomain != "web-svc" {
		t.Errorf("hostname %q subdomain %q", pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].PersistentVolumeClaim == nil ||
		pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-1" {
		t.Errorf("volumes %+v, want data -> claim data-web-1", pod.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != set.UID || ref.Kind != "StatefulSet" {
		t.Errorf("controller ref %+v", ref)
	}
}

func TestOrdinalsStart(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 2)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	e.createSet(set)
	e.eventually("web-5 and web-6", e.hasPods("web-5", "web-6"))
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Ordinals.Start = 6 })
	e.eventually("web-6 and web-7", e.hasPods("web-6", "web-7"))
}

func TestOrderedScaleDownInReverse(t *testing.T) {
	e := newEnv(t, autoReady, graceful)
	e.createSet(newSet("web", 4))
	e.eventually("4 pods", e.hasPods("web-0", "web-1", "web-2", "web-3"))
	e.resetJournal()

	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	e.eventually("web-3 terminating", func() bool { p := e.pod("web-3"); return p != nil && p.DeletionTimestamp != nil })
	e.never("web-2 deleted while web-3 terminates", func() bool { return len(e.writes()) > 1 })
	e.finalize("web-3")
	e.eventually("web-2 terminating", func() bool { p := e.pod("web-2"); return p != nil && p.DeletionTimestamp != nil })
	e.never("web-1 deleted while web-2 terminates", func() bool { return len(e.writes()) > 2 })
	e.finalize("web-2")
	e.eventually("web-1 terminating", func() bool { p := e.pod("web-1"); return p != nil && p.DeletionTimestamp != nil })
	e.finalize("web-1")
	e.eventually("status 1 replica", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.Replicas == 1 && s.ReadyReplicas == 1
	}))
	if got, want := joined(e.writes()), "delete web-3, delete web-2, delete web-1"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}
}

func TestParallel(t *testing.T) {
	e := newEnv(t, graceful)
	set := newSet("web", 3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	e.createSet(set)
	// None is ready, yet all are created.
	e.eventually("3 pods at once", e.hasPods("web-0", "web-1", "web-2"))
	e.eventually("status 3 replicas", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.Replicas == 3 && s.ReadyReplicas == 0
	}))
	e.resetJournal()
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](0) })
	e.eventually("all 3 terminating at once", func() bool {
		w := e.writes()
		slices.Sort(w)
		return joined(w) == "delete web-0, delete web-1, delete web-2"
	})
}

func TestRollingUpdateWithPartition(t *testing.T) {
	e := newEnv(t, autoReady)
	e.createSet(newSet("web", 4))
	e.eventually("4 pods ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 4 }))
	oldRev := e.set("web").Status.CurrentRevision
	e.resetJournal()

	e.updateSet("web", func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "img:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](2)
	})
	e.eventually("ordinals 2 and 3 updated", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.UpdatedReplicas == 2 && s.ReadyReplicas == 4 && s.CurrentReplicas == 2
	}))
	e.never("ordinals below the partition touched", func() bool { return len(e.writes()) > 4 })
	if got, want := joined(e.writes()), "delete web-3, create web-3, delete web-2, create web-2"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}
	st := e.set("web").Status
	if st.CurrentRevision != oldRev || st.UpdateRevision == oldRev {
		t.Errorf("current %s update %s; want current %s and a new update revision", st.CurrentRevision, st.UpdateRevision, oldRev)
	}
	for name, rev := range map[string]string{"web-0": oldRev, "web-1": oldRev, "web-2": st.UpdateRevision, "web-3": st.UpdateRevision} {
		if got := revisionOf(e.pod(name)); got != rev {
			t.Errorf("%s at revision %s, want %s", name, got, rev)
		}
	}
	if img := e.pod("web-3").Spec.Containers[0].Image; img != "img:2" {
		t.Errorf("web-3 runs %s", img)
	}
	if img := e.pod("web-0").Spec.Containers[0].Image; img != "img:1" {
		t.Errorf("web-0 runs %s", img)
	}

	// A pod below the partition that is deleted comes back at the old revision.
	e.deletePod("web-0")
	e.eventually("web-0 back", e.exists("web-0"))
	if got := revisionOf(e.pod("web-0")); got != oldRev {
		t.Errorf("recreated web-0 at %s, want %s", got, oldRev)
	}

	e.resetJournal()
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
	e.eventually("update complete", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.UpdatedReplicas == 4 && s.CurrentRevision == s.UpdateRevision && s.CurrentReplicas == 4
	}))
	if got, want := joined(e.writes()), "delete web-1, create web-1, delete web-0, create web-0"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	e := newEnv(t, graceful)
	set := newSet("web", 3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstrFromInt(2))
	e.createSet(set)
	e.eventually("3 pods", e.hasPods("web-0", "web-1", "web-2"))
	for _, p := range []string{"web-0", "web-1", "web-2"} {
		e.markReady(p)
	}
	e.eventually("3 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 3 }))
	e.resetJournal()
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "img:2" })
	e.eventually("two deleted", func() bool { return len(e.writes()) == 2 })
	e.never("a third deleted", func() bool { return len(e.writes()) > 2 })
	if got, want := joined(e.writes()), "delete web-2, delete web-1"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}
}

func TestOnDelete(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 2)
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	e.createSet(set)
	e.eventually("2 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 2 }))
	oldRev := e.set("web").Status.CurrentRevision
	e.resetJournal()

	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "img:2" })
	e.eventually("new update revision", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.UpdateRevision != oldRev && s.UpdatedReplicas == 0 && s.CurrentReplicas == 2
	}))
	e.never("a pod deleted by the controller", func() bool { return len(e.writes()) > 0 })

	e.deletePod("web-1")
	e.eventually("web-1 back", e.exists("web-1"))
	newRev := e.set("web").Status.UpdateRevision
	if got := revisionOf(e.pod("web-1")); got != newRev {
		t.Errorf("recreated web-1 at %s, want %s", got, newRev)
	}
	if got := revisionOf(e.pod("web-0")); got != oldRev {
		t.Errorf("web-0 at %s, want %s", got, oldRev)
	}
	e.eventually("1 updated", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.UpdatedReplicas == 1 }))
}

func TestRevisionHistory(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 1)
	set.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	e.createSet(set)
	e.eventually("ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 1 }))
	first := e.set("web").Status.CurrentRevision

	for _, img := range []string{"img:2", "img:3", "img:4"} {
		e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = img })
		e.eventually("rolled to "+img, func() bool {
			p := e.pod("web-0")
			st := e.set("web").Status
			return p != nil && p.Spec.Containers[0].Image == img && st.CurrentRevision == st.UpdateRevision && revisionOf(p) == st.UpdateRevision
		})
	}
	revs := func() map[string]int64 {
		list, err := e.client.AppsV1().ControllerRevisions(ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range list.Items {
			out[r.Name] = r.Revision
		}
		return out
	}
	// The live revision (4) and one more (3); 1 and 2 are gone.
	e.eventually("history trimmed to 2", func() bool { return len(revs()) == 2 })
	got := revs()
	if _, ok := got[first]; ok {
		t.Errorf("first revision %s kept: %v", first, got)
	}
	live := e.set("web").Status.UpdateRevision
	if got[live] != 4 {
		t.Errorf("live revision %s is number %d, want 4 (%v)", live, got[live], got)
	}

	// Back to img:3: the kept revision is renumbered 5, no new one is made.
	var third string
	for name, n := range got {
		if n == 3 {
			third = name
		}
	}
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "img:3" })
	e.eventually("rolled back", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.UpdateRevision == third && s.CurrentRevision == third
	}))
	if got := revs(); got[third] != 5 || len(got) != 2 {
		t.Errorf("after rollback: %v; want %s at 5 and one other", got, third)
	}
}

func TestFailedPodIsReplaced(t *testing.T) {
	e := newEnv(t, autoReady)
	e.createSet(newSet("web", 2))
	e.eventually("2 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 2 }))
	pod := e.pod("web-0").DeepCopy()
	oldUID := pod.UID
	pod.Status.Phase = corev1.PodFailed
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(e.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("web-0 replaced", func() bool { p := e.pod("web-0"); return p != nil && p.UID != oldUID })
}

func (e *env) markUnready(name string) {
	e.t.Helper()
	pod := e.pod(name).DeepCopy()
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(e.ctx, pod, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func TestOrderedScaleDownWaitsForHealthyPods(t *testing.T) {
	e := newEnv(t, autoReady)
	e.createSet(newSet("web", 3))
	e.eventually("3 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 3 }))
	e.markUnready("web-1")
	e.markUnready("web-2")
	e.eventually("1 ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 1 }))
	e.resetJournal()

	// web-2 is unhealthy and is not the first unhealthy pod (web-1 is): an
	// ordered set waits rather than remove it.
	e.updateSet("web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	e.never("a pod removed while web-2 is unhealthy", func() bool { return len(e.writes()) > 0 })
	e.markReady("web-2")
	e.eventually("web-1 and web-2 removed", e.hasPods("web-0"))
	if got, want := joined(e.writes()), "delete web-2, delete web-1"; got != want {
		t.Errorf("writes: %s; want %s", got, want)
	}
}

func TestAdoptsAndReleasesPods(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 2)
	rev, _ := newRevision(set, 1, ptr.To[int32](0))
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: ns, Labels: map[string]string{
			"app": "web", appsv1.StatefulSetRevisionLabel: rev.Name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	runningAndReady(orphan)
	if _, err := e.client.CoreV1().Pods(ns).Create(e.ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stranger := orphan.DeepCopy()
	stranger.Name = "db-0" // matches the selector, not the name
	if _, err := e.client.CoreV1().Pods(ns).Create(e.ctx, stranger, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.createSet(set)
	e.eventually("web-0 adopted", func() bool {
		ref := metav1.GetControllerOf(e.pod("web-0"))
		return ref != nil && ref.UID == set.UID
	})
	e.eventually("web-1 created", e.exists("web-1"))
	if metav1.GetControllerOf(e.pod("db-0")) != nil {
		t.Error("db-0 adopted though its name is not web's")
	}
	e.never("the adopted pod replaced", func() bool { return slices.Contains(e.writes(), "delete web-0") })

	// A pod relabelled out of the selector is let go.
	pod := e.pod("web-1").DeepCopy()
	pod.Labels["app"] = "other"
	if _, err := e.client.CoreV1().Pods(ns).Update(e.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("web-1 released", func() bool { return metav1.GetControllerOf(e.pod("web-1")) == nil })
}

func TestAdoptsOrphanRevisions(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 1)
	rev, err := newRevision(set, 1, ptr.To[int32](0))
	if err != nil {
		t.Fatal(err)
	}
	rev.OwnerReferences = nil
	if _, err := e.client.AppsV1().ControllerRevisions(ns).Create(e.ctx, rev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.createSet(set)
	e.eventually("ready", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 1 }))
	got, err := e.client.AppsV1().ControllerRevisions(ns).Get(e.ctx, rev.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != set.UID {
		t.Errorf("revision's controller %+v", ref)
	}
	if st := e.set("web").Status; st.UpdateRevision != rev.Name {
		t.Errorf("update revision %s, want the adopted %s", st.UpdateRevision, rev.Name)
	}
}

func TestMinReadySeconds(t *testing.T) {
	e := newEnv(t, autoReady)
	set := newSet("web", 2)
	set.Spec.MinReadySeconds = 1
	e.createSet(set)
	e.eventually("web-0", e.exists("web-0"))
	e.eventually("web-0 ready, not yet available", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool {
		return s.ReadyReplicas == 1 && s.AvailableReplicas == 0
	}))
	e.never("web-1 created before web-0 is available", e.exists("web-1"))
	// No pod event marks the end of minReadySeconds: the controller must come
	// back by itself.
	e.eventually("web-1", e.exists("web-1"))
	e.eventually("both available", e.statusIs("web", func(s appsv1.StatefulSetStatus) bool { return s.AvailableReplicas == 2 }))
}
