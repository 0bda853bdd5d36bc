// Package events gives a control loop the recorder of the Events it writes
// about its objects, sent through the API server. It must not decide what to
// record.
package events

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Start returns a recorder whose Events, from component, go to client until
// ctx ends or stop is called; stop (deferred by the loop's Run) shuts the
// broadcaster down.
func Start(ctx context.Context, client kubernetes.Interface, component string) (rec record.EventRecorder, stop func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), broadcaster.Shutdown
}
