package events

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestConversionKeepsEveryField: an Event with every field set survives
// the trip to events.k8s.io/v1 and back, and the view has every one of its
// own fields set (a field added to either type fails here until it is
// converted), without sharing memory with what it was made from.
func TestConversionKeepsEveryField(t *testing.T) {
	now := metav1.NewTime(time.Unix(1505828956, 0))
	micro := metav1.NewMicroTime(time.Unix(1505828956, 123000))
	ref := func(name string) corev1.ObjectReference {
		return corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: "u", APIVersion: "v1", ResourceVersion: "7", FieldPath: "spec.containers{c}"}
	}
	related := ref("related")
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		InvolvedObject: ref("web"), Related: &related,
		Reason: "Scheduled", Message: "assigned", Type: corev1.EventTypeNormal, Action: "Binding",
		Source:         corev1.EventSource{Component: "kubelet", Host: "n1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 2, EventTime: micro,
		Series:              &corev1.EventSeries{Count: 3, LastObservedTime: micro},
		ReportingController: "skiff.io/scheduler", ReportingInstance: "scheduler-1",
	}
	allSet(t, ev)
	view := fromCore(ev)
	allSet(t, view)
	if back := toCore(view); !equality.Semantic.DeepEqual(back, ev) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, ev)
	}
	view.Labels["a"] = "changed"
	view.Related.Name = "changed"
	if ev.Labels["a"] != "b" || ev.Related.Name != "related" {
		t.Error("the view shares memory with the event it was made from")
	}
}

func allSet(t *testing.T, obj any) {
	t.Helper()
	v := reflect.ValueOf(obj).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Name != "TypeMeta" && v.Field(i).IsZero() {
			t.Errorf("%T.%s is not set", obj, f.Name)
		}
	}
}
