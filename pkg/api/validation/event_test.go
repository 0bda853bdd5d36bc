package validation

import (
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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
			required("source"), invalid("source", "name part must be non-empty"), invalid("source", "name part must consist of"),
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

func TestValidateLease(t *testing.T) {
	lease := func(mutate func(*coordinationv1.LeaseSpec)) *coordinationv1.Lease {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To(int32(40))},
		}
		if mutate != nil {
			mutate(&l.Spec)
		}
		return l
	}
	expectErrs(t, ValidateLease(lease(nil)))
	expectErrs(t, ValidateLease(lease(func(s *coordinationv1.LeaseSpec) {
		s.LeaseDurationSeconds = ptr.To(int32(0))
		s.LeaseTransitions = ptr.To(int32(-1))
		s.PreferredHolder = ptr.To("node-2")
	})),
		invalid("spec.leaseDurationSeconds", "must be greater than 0"),
		invalid("spec.leaseTransitions", "must be greater than or equal to 0"),
		forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))

	old := lease(nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	renewed := old.DeepCopy()
	renewed.Spec.RenewTime = ptr.To(metav1.NowMicro())
	expectErrs(t, ValidateLeaseUpdate(renewed, old))
	renewed.Name = "node-2"
	expectErrs(t, ValidateLeaseUpdate(renewed, old), invalid("metadata.name", "field is immutable"))
}
