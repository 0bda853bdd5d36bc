package validation

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// newEventsV1 is an event as upstream's events.k8s.io/v1 conformance test
// creates it, in core/v1 form.
func newEventsV1(mutate func(*corev1.Event)) *corev1.Event {
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "event-test", Namespace: "team-a"},
		InvolvedObject:      corev1.ObjectReference{Namespace: "team-a"},
		EventTime:           metav1.NewMicroTime(time.Unix(1505828956, 0)),
		Message:             "This is event-test",
		Action:              "Do",
		Reason:              "Test",
		Type:                corev1.EventTypeNormal,
		ReportingController: "test-controller",
		ReportingInstance:   "test-node",
	}
	if mutate != nil {
		mutate(ev)
	}
	return ev
}

func TestValidateEventsV1Event(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *corev1.Event
		want []e
	}{
		{"conformance event", newEventsV1(nil), nil},
		{"no eventTime, reporting fields or type", newEventsV1(func(ev *corev1.Event) {
			ev.EventTime = metav1.MicroTime{}
			ev.ReportingController, ev.ReportingInstance, ev.Type = "", "", ""
		}), []e{required("eventTime"), invalid("type", "has invalid value: ")}},
		{"no reporting controller or instance", newEventsV1(func(ev *corev1.Event) {
			ev.ReportingController, ev.ReportingInstance = "", ""
		}), []e{
			required("reportingController"), invalid("reportingController", "name part must be non-empty"),
			invalid("reportingController", "name part must consist of"), required("reportingInstance"),
		}},
		{"deprecated fields", newEventsV1(func(ev *corev1.Event) {
			ev.FirstTimestamp, ev.LastTimestamp = metav1.Now(), metav1.Now()
			ev.Count = 1
			ev.Source.Component = "kubelet"
		}), []e{
			invalid("firstTimestamp", "needs to be unset"), invalid("lastTimestamp", "needs to be unset"),
			invalid("count", "needs to be unset"), invalid("source", "needs to be unset"),
		}},
		{"series of one", newEventsV1(func(ev *corev1.Event) { ev.Series = &corev1.EventSeries{Count: 1} }),
			[]e{invalid("series.count", "should be at least 2"), required("series.lastObservedTime")}},
		{"name not a subdomain", newEventsV1(func(ev *corev1.Event) { ev.Name = "Event_1" }),
			[]e{invalid("metadata.name", "a lowercase RFC 1123 subdomain")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateEventsV1Event(tc.ev), tc.want...) })
	}
}

func TestValidateEventsV1EventUpdate(t *testing.T) {
	old := newEventsV1(nil)
	old.ObjectMeta = stored(old.ObjectMeta)

	// What the conformance test changes: the series, and labels.
	upd := old.DeepCopy()
	upd.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Unix(1505828951, 0))}
	upd.Labels = map[string]string{"testevent-constant": "true"}
	expectErrs(t, ValidateEventsV1EventUpdate(upd, old))

	upd.Series.Count = 1
	expectErrs(t, ValidateEventsV1EventUpdate(upd, old), invalid("series.count", "should be at least 2"))

	// A nanosecond more is no change of eventTime; a second is.
	upd = old.DeepCopy()
	upd.EventTime = metav1.NewMicroTime(old.EventTime.Add(time.Nanosecond))
	expectErrs(t, ValidateEventsV1EventUpdate(upd, old))
	upd.EventTime = metav1.NewMicroTime(old.EventTime.Add(time.Second))
	expectErrs(t, ValidateEventsV1EventUpdate(upd, old), invalid("eventTime", "field is immutable"))

	upd = old.DeepCopy()
	upd.Message, upd.ReportingInstance = "other", "other-node"
	expectErrs(t, ValidateEventsV1EventUpdate(upd, old), invalid("message", "field is immutable"), invalid("reportingInstance", "field is immutable"))
}
