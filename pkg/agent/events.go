package agent

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
)

// event records an event about the pod, as the kubelet does (kubectl describe
// shows them).
func (a *Agent) event(pod *corev1.Pod, eventType, reason, format string, args ...any) {
	if a.recorder == nil || pod == nil {
		return
	}
	a.recorder.Eventf(pod, eventType, reason, format, args...)
}

// grpcMessage is a CRI error's message without the "rpc error: code = ..."
// prefix.
func grpcMessage(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
