package apiserver

import (
	"bytes"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestStoredFormMatchesStoredBytes: the no-op detection compares a new object's
// stored bytes with the cached entry's; they must agree for an unchanged object,
// including kinds whose body names another resourceVersion (events).
func TestStoredFormMatchesStoredBytes(t *testing.T) {
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Event")}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "default", UID: "u"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", ResourceVersion: "7"},
		Reason:         "Scheduled",
	}
	stored, err := storedBytes(res, ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.ResourceVersion = strconv.Itoa(42)
	raw, err := encodeJSON(ev, res.GVK)
	if err != nil {
		t.Fatal(err)
	}
	e := &entry{raw: raw, rev: 42}
	if got := storedForm(e); !bytes.Equal(got, stored) {
		t.Fatalf("storedForm =\n%s\nwant\n%s", got, stored)
	}
}

// TestUnchangedWithoutJSON: for an entry that keeps only protobuf, the no-op
// detection still tells an unchanged object from a changed one, and the stored
// form derived from protobuf is the object's stored bytes.
func TestUnchangedWithoutJSON(t *testing.T) {
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u", ResourceVersion: "5",
			Labels: map[string]string{"run": "x"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	e, err := newEntry("/registry/pods/default/p", res, pod.DeepCopy(), nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if e.raw != nil {
		t.Fatal("the entry kept its JSON; this test is about one that does not")
	}
	stored, err := storedBytes(res, pod.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	if got := storedForm(e); !bytes.Equal(got, stored) {
		t.Fatalf("storedForm =\n%s\nwant\n%s", got, stored)
	}
	for _, rv := range []string{"", "5"} { // clients may send the resourceVersion or not
		same := pod.DeepCopy()
		same.ResourceVersion = rv
		if !unchanged(res, e, same, stored) {
			t.Errorf("with resourceVersion %q: an unchanged pod counted as changed", rv)
		}
		if same.ResourceVersion != rv {
			t.Errorf("unchanged changed the object's resourceVersion to %q", same.ResourceVersion)
		}
	}
	changed := pod.DeepCopy()
	changed.Labels["run"] = "y"
	data, _ := storedBytes(res, changed)
	if unchanged(res, e, changed, data) {
		t.Error("a relabelled pod counted as unchanged")
	}
}
