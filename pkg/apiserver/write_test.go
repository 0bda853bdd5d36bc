package apiserver

import (
	"bytes"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
