package validation

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits on the fields of a new-style event (one with eventTime).
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// ValidateEvent validates a core/v1 event being created. An event must live in
// the namespace of the object it is about; old-style events (no eventTime) about
// cluster-scoped objects live in "default".
func ValidateEvent(e *corev1.Event) field.ErrorList {
	errs := ValidateObjectMeta(&e.ObjectMeta, true, ValidateEventName, metadataPath)
	errs = append(errs, legacyEvent(e, "reportingComponent")...)
	return append(errs, eventNamespace(e)...)
}

// ValidateEventUpdate validates an update of an event.
func ValidateEventUpdate(newE, oldE *corev1.Event) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newE.ObjectMeta, &oldE.ObjectMeta, metadataPath)
	errs = append(errs, legacyEvent(newE, "reportingComponent")...)
	return append(errs, eventNamespace(newE)...)
}

func eventNamespace(e *corev1.Event) field.ErrorList {
	return invalidEach(field.NewPath("namespace"), e.Namespace, validation.IsDNS1123Subdomain(e.Namespace))
}

// ValidateEventsV1Event validates an event created through events.k8s.io/v1,
// in its core/v1 form, as upstream validates that API's events (the paths
// of errors name core fields, as upstream's do): the checks of core/v1, then
// those of the new API, which wants an eventTime, a type and no deprecated
// fields.
func ValidateEventsV1Event(e *corev1.Event) field.ErrorList {
	errs := legacyEvent(e, "reportingController")
	errs = append(errs, ValidateObjectMeta(&e.ObjectMeta, true, ValidateEventName, metadataPath)...)
	errs = append(errs, eventSeries(e)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	for _, f := range []struct {
		name  string
		unset bool
	}{
		{"firstTimestamp", e.FirstTimestamp.IsZero()},
		{"lastTimestamp", e.LastTimestamp.IsZero()},
		{"count", e.Count == 0},
		{"source", e.Source == corev1.EventSource{}},
	} {
		if !f.unset {
			errs = append(errs, field.Invalid(field.NewPath(f.name), "", "needs to be unset"))
		}
	}
	return errs
}

// ValidateEventsV1EventUpdate validates an update through events.k8s.io/v1,
// in core/v1 form: only the series and metadata may change.
func ValidateEventsV1EventUpdate(newE, oldE *corev1.Event) field.ErrorList {
	errs := legacyEvent(newE, "reportingController")
	errs = append(errs, ValidateObjectMetaUpdate(&newE.ObjectMeta, &oldE.ObjectMeta, metadataPath)...)
	if !equality.Semantic.DeepEqual(newE.Series, oldE.Series) {
		errs = append(errs, eventSeries(newE)...)
	}
	for _, f := range []struct {
		name     string
		new, old any
	}{
		{"involvedObject", newE.InvolvedObject, oldE.InvolvedObject},
		{"reason", newE.Reason, oldE.Reason},
		{"message", newE.Message, oldE.Message},
		{"source", newE.Source, oldE.Source},
		{"firstTimestamp", newE.FirstTimestamp, oldE.FirstTimestamp},
		{"lastTimestamp", newE.LastTimestamp, oldE.LastTimestamp},
		{"count", newE.Count, oldE.Count},
		{"type", newE.Type, oldE.Type},
		{"action", newE.Action, oldE.Action},
		{"related", newE.Related, oldE.Related},
		{"reportingController", newE.ReportingController, oldE.ReportingController},
		{"reportingInstance", newE.ReportingInstance, oldE.ReportingInstance},
	} {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(f.new, f.old, field.NewPath(f.name))...)
	}
	// Clients that write nanoseconds (older protobuf ones) may send back an
	// eventTime that differs below the microsecond stored: that is no change.
	if !newE.EventTime.Truncate(time.Microsecond).Equal(oldE.EventTime.Truncate(time.Microsecond)) {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newE.EventTime, oldE.EventTime, field.NewPath("eventTime"))...)
	}
	return errs
}

func eventSeries(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.Series != nil {
		if e.Series.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
		}
		if e.Series.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
		}
	}
	return errs
}

// legacyEvent is what every event must pass, whichever API wrote it; the
// reporting controller is named as the API calls it.
func legacyEvent(e *corev1.Event, reportingController string) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	const mismatch = "does not match event.namespace"
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
		return errs
	}
	if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
	}
	if e.ReportingController == "" {
		errs = append(errs, field.Required(field.NewPath(reportingController), ""))
	}
	errs = append(errs, ValidateQualifiedName(e.ReportingController, field.NewPath(reportingController))...)
	for _, f := range []struct {
		name, value string
		limit       int
		required    bool
	}{
		{"reportingInstance", e.ReportingInstance, reportingInstanceLengthLimit, true},
		{"action", e.Action, actionLengthLimit, true},
		{"reason", e.Reason, reasonLengthLimit, true},
		{"message", e.Message, noteLengthLimit, false},
	} {
		if f.required && f.value == "" {
			errs = append(errs, field.Required(field.NewPath(f.name), ""))
		}
		if len(f.value) > f.limit {
			errs = append(errs, field.Invalid(field.NewPath(f.name), "", fmt.Sprintf("can have at most %v characters", f.limit)))
		}
	}
	return errs
}
