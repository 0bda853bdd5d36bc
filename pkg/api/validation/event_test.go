package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateEvent(t *testing.T) {
	event := func(ns, involvedNS string, mutate func(*corev1.Event)) *corev1.Event {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web.17a8b2c3d4e5f6a7", Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: involvedNS},
			Reason:         "Scheduled",
		}
		if mutate != nil {
			mutate(ev)
		}
		return ev
	}
	newStyle := func(ev *corev1.Event) {
		ev.EventTime = metav1.NowMicro()
		ev.ReportingController = "skiff.io/scheduler"
		ev.ReportingInstance = "scheduler-1"
		ev.Action = "Binding"
	}
	for _, tc := range []struct {
		name string
		ev   *corev1.Event
		want []e
	}{
		{"same namespace", event("default", "default", nil), nil},
		{"cluster-scoped object in default", event("default", "", nil), nil},
		{"namespace mismatch", event("default", "kube-system", nil), []e{invalid("involvedObject.namespace", "does not match event.namespace")}},
		{"cluster-scoped object elsewhere", event("team-a", "", nil), []e{invalid("involvedObject.namespace", "does not match event.namespace")}},
		{"new style", event("default", "default", newStyle), nil},
		{"new style, cluster object in kube-system", event("kube-system", "", newStyle), nil},
		{"new style missing fields", event("team-a", "", func(ev *corev1.Event) {
			ev.EventTime = metav1.NowMicro()
			ev.Reason = ""
			ev.Message = strings.Repeat("m", 1025)
		}), []e{
			invalid("involvedObject.namespace", "does not match event.namespace"),
			required("reportingComponent"), invalid("reportingComponent", "name part must be non-empty"), invalid("reportingComponent", "name part must consist of"),
			required("reportingInstance"), required("action"), required("reason"),
			invalid("message", "can have at most 1024 characters"),
		}},
		{"no name", event("default", "default", func(ev *corev1.Event) { ev.Name = "" }), []e{required("metadata.name")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateEvent(tc.ev), tc.want...) })
	}

	old := event("default", "default", nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Count = 2
	expectErrs(t, ValidateEventUpdate(upd, old))
	upd.InvolvedObject.Namespace = "other"
	expectErrs(t, ValidateEventUpdate(upd, old), invalid("involvedObject.namespace", ""))
}
