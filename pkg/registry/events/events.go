package events

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(events) }

// events are the core/v1 Events, converted as upstream converts them. No
// short name: upstream gives these "ev" too, but kubectl resolves it to the
// core group's, which comes first.
func events(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Event"), "events", "event", true,
		func() runtime.Object { return &eventsv1.Event{} }, func() runtime.Object { return &eventsv1.EventList{} },
		printers.Event())
	r.Of = &apiserver.ViewOf{
		GroupVersion: corev1.SchemeGroupVersion.String(), Resource: "events",
		ToView:   func(obj runtime.Object) runtime.Object { return fromCore(obj.(*corev1.Event)) },
		FromView: func(obj runtime.Object) runtime.Object { return toCore(obj.(*eventsv1.Event)) },
	}
	// Validated in core form, as upstream validates its internal Events.
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateEventsV1Event(toCore(obj.(*eventsv1.Event)))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateEventsV1EventUpdate(toCore(obj.(*eventsv1.Event)), toCore(old.(*eventsv1.Event)))
	}
	// Upstream's field selectors of this group, in its own field names.
	r.Fields = func(obj runtime.Object) fields.Set {
		e := obj.(*eventsv1.Event)
		return fields.Set{
			"regarding.kind":            e.Regarding.Kind,
			"regarding.namespace":       e.Regarding.Namespace,
			"regarding.name":            e.Regarding.Name,
			"regarding.uid":             string(e.Regarding.UID),
			"regarding.apiVersion":      e.Regarding.APIVersion,
			"regarding.resourceVersion": e.Regarding.ResourceVersion,
			"regarding.fieldPath":       e.Regarding.FieldPath,
			"reason":                    e.Reason,
			"reportingController":       e.ReportingController,
			"type":                      e.Type,
		}
	}
	return r
}

// toCore and fromCore are upstream's conversions between the two forms of
// an Event; every field has its counterpart. Each copies its argument first:
// the view's callers own what they pass and what they get.
func toCore(in *eventsv1.Event) *corev1.Event {
	e := in.DeepCopy()
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Related:             e.Related,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if s := e.Series; s != nil {
		out.Series = &corev1.EventSeries{Count: s.Count, LastObservedTime: s.LastObservedTime}
	}
	return out
}

func fromCore(in *corev1.Event) *eventsv1.Event {
	e := in.DeepCopy()
	out := &eventsv1.Event{
		ObjectMeta:               e.ObjectMeta,
		Regarding:                e.InvolvedObject,
		Related:                  e.Related,
		Reason:                   e.Reason,
		Note:                     e.Message,
		DeprecatedSource:         e.Source,
		DeprecatedFirstTimestamp: e.FirstTimestamp,
		DeprecatedLastTimestamp:  e.LastTimestamp,
		DeprecatedCount:          e.Count,
		Type:                     e.Type,
		EventTime:                e.EventTime,
		Action:                   e.Action,
		ReportingController:      e.ReportingController,
		ReportingInstance:        e.ReportingInstance,
	}
	if s := e.Series; s != nil {
		out.Series = &eventsv1.EventSeries{Count: s.Count, LastObservedTime: s.LastObservedTime}
	}
	return out
}
