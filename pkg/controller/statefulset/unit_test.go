package statefulset

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func intstrFromInt(n int) intstr.IntOrString { return intstr.FromInt32(int32(n)) }

func TestRevisionData(t *testing.T) {
	set := newSet("web", 1)
	data, err := revisionData(set)
	if err != nil {
		t.Fatal(err)
	}
	// Upstream's patch: only spec.template, replaced whole, keys sorted.
	if !strings.HasPrefix(string(data), `{"spec":{"template":{"$patch":"replace","metadata":{`) {
		t.Errorf("data = %s", data)
	}
	var back map[string]map[string]map[string]any
	if err := json.Unmarshal(data, &back); err != nil || len(back["spec"]) != 1 {
		t.Errorf("data %s: %v", data, err)
	}
	rev, _ := newRevision(set, 1, ptr.To[int32](0))
	restored := newSet("web", 1)
	restored.Spec.Template.Spec.Containers[0].Image = "other"
	got, err := applyRevision(restored, rev)
	if err != nil || got.Spec.Template.Spec.Containers[0].Image != "img:1" {
		t.Errorf("applyRevision = %v, %v", got, err)
	}
}

func TestVersionedPod(t *testing.T) {
	cur, upd := newSet("web", 4), newSet("web", 4)
	upd.Spec.Template.Spec.Containers[0].Image = "img:2"
	cur.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](2)
	for ord, want := range []string{"cur", "cur", "upd", "upd"} {
		if got := revisionOf(versionedPod(cur, upd, "cur", "upd", ord)); got != want {
			t.Errorf("ordinal %d at %s, want %s", ord, got, want)
		}
	}
	cur.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	if got := versionedPod(cur, upd, "cur", "upd", 0); revisionOf(got) != "upd" || got.Spec.Containers[0].Image != "img:2" {
		t.Errorf("OnDelete creates at %s", revisionOf(got))
	}
}

func TestScaledMaxUnavailable(t *testing.T) {
	for _, tc := range []struct {
		v    *intstr.IntOrString
		n    int
		want int
	}{
		{nil, 5, 1},
		{ptr.To(intstr.FromInt32(3)), 5, 3},
		{ptr.To(intstr.FromString("50%")), 5, 2},
		{ptr.To(intstr.FromString("10%")), 5, 1},
	} {
		if got, err := scaledMaxUnavailable(tc.v, tc.n); err != nil || got != tc.want {
			t.Errorf("scaledMaxUnavailable(%v, %d) = %d, %v; want %d", tc.v, tc.n, got, err, tc.want)
		}
	}
}

func TestForAll(t *testing.T) {
	var calls atomic.Int32
	stop, err := forAll(5, true, func(i int) (bool, error) { calls.Add(1); return i == 1, nil })
	if !stop || err != nil || calls.Load() != 2 {
		t.Errorf("monotonic: stop %v err %v calls %d", stop, err, calls.Load())
	}
	calls.Store(0)
	stop, err = forAll(7, false, func(int) (bool, error) { calls.Add(1); return true, nil })
	if stop || err != nil || calls.Load() != 7 {
		t.Errorf("parallel: stop %v err %v calls %d", stop, err, calls.Load())
	}
	calls.Store(0)
	// Batches 1, 2, 4: an error in the second stops before the third.
	_, err = forAll(7, false, func(i int) (bool, error) {
		calls.Add(1)
		if i == 2 {
			return false, errors.New("boom")
		}
		return false, nil
	})
	if err == nil || calls.Load() != 3 {
		t.Errorf("parallel with error: err %v calls %d", err, calls.Load())
	}
}

func TestIdentity(t *testing.T) {
	set := newSet("web-app", 3)
	pod := newPod(set, 12, "rev")
	if pod.Name != "web-app-12" || ordinalOf(pod) != 12 || !isMember(set, pod) || !identityMatches(set, pod) {
		t.Errorf("pod %s: ordinal %d member %v", pod.Name, ordinalOf(pod), isMember(set, pod))
	}
	other := newSet("web", 3)
	if isMember(other, pod) {
		t.Error("web-app-12 counted as a member of web")
	}
	pod.Labels[appsv1.PodIndexLabel] = "3"
	if identityMatches(set, pod) {
		t.Error("wrong index label accepted")
	}
}
