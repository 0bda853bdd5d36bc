package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
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
	return append(errs, validateEventBody(e)...)
}

// ValidateEventUpdate validates an update of an event.
func ValidateEventUpdate(newE, oldE *corev1.Event) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newE.ObjectMeta, &oldE.ObjectMeta, metadataPath)
	return append(errs, validateEventBody(newE)...)
}

func validateEventBody(e *corev1.Event) field.ErrorList {
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
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
		// The v1 API calls the reporting controller "source".
		if e.ReportingController == "" {
			errs = append(errs, field.Required(field.NewPath("source"), ""))
		}
		errs = append(errs, ValidateQualifiedName(e.ReportingController, field.NewPath("source"))...)
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
	}
	errs = append(errs, invalidEach(field.NewPath("namespace"), e.Namespace, validation.IsDNS1123Subdomain(e.Namespace))...)
	return errs
}
