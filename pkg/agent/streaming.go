package agent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The methods below are what the streaming server (pkg/streaming/server's
// Runtime) needs from the agent: where a container's log is, and the CRI
// streaming URLs for exec, attach and port-forward. Errors are API statuses
// with the kubelet's messages.

var podResource = schema.GroupResource{Resource: "pods"}

// PodLogDir is the directory holding every pod's logs, as
// NAMESPACE_NAME_UID/CONTAINER/RESTARTCOUNT.log.
func (a *Agent) PodLogDir() string { return a.agentDir("pods") }

// NodePods lists the pods bound to this node, for the agent's /pods.
func (a *Agent) NodePods() ([]*corev1.Pod, error) {
	if a.pods == nil {
		return nil, apierrors.NewServiceUnavailable("the node agent is starting")
	}
	return a.pods.List(labels.Everything())
}

// ContainerLogPath returns the CRI log file of the container's current
// instance (or of the one before it, when previous).
func (a *Agent) ContainerLogPath(namespace, pod, container string, previous bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, cur, prev, err := a.findContainer(ctx, namespace, pod, container)
	if err != nil {
		return "", err
	}
	c := cur
	if previous {
		c = prev
		if c == nil || c.status == nil {
			return "", apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, p.Name))
		}
	}
	if c == nil || c.status == nil || c.status.LogPath == "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, p.Name, a.waitingReason(p, container)))
	}
	return c.status.LogPath, nil
}

// ContainerRunning reports whether the container's current instance runs.
func (a *Agent) ContainerRunning(ctx context.Context, namespace, pod, container string) (bool, error) {
	_, cur, _, err := a.findContainer(ctx, namespace, pod, container)
	if err != nil {
		return false, err
	}
	return cur != nil && cur.state == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
}

// ExecURL asks the runtime for an exec session in a running container.
func (a *Agent) ExecURL(ctx context.Context, namespace, pod, container string, cmd []string, stdin, stdout, stderr, tty bool) (string, error) {
	id, err := a.runningContainer(ctx, namespace, pod, container)
	if err != nil {
		return "", err
	}
	resp, err := a.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr && !tty, Tty: tty})
	if err != nil {
		return "", apierrors.NewInternalError(fmt.Errorf("exec in container %q of pod %q: %s", container, pod, grpcMessage(err)))
	}
	return resp.Url, nil
}

// AttachURL asks the runtime to attach to a running container.
func (a *Agent) AttachURL(ctx context.Context, namespace, pod, container string, stdin, stdout, stderr, tty bool) (string, error) {
	id, err := a.runningContainer(ctx, namespace, pod, container)
	if err != nil {
		return "", err
	}
	resp, err := a.runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id, Stdin: stdin, Stdout: stdout, Stderr: stderr && !tty, Tty: tty})
	if err != nil {
		return "", apierrors.NewInternalError(fmt.Errorf("attach to container %q of pod %q: %s", container, pod, grpcMessage(err)))
	}
	return resp.Url, nil
}

// PortForwardURL asks the runtime to forward ports into the pod's network.
func (a *Agent) PortForwardURL(ctx context.Context, namespace, pod string, ports []int32) (string, error) {
	p, err := a.pods.Pods(namespace).Get(pod)
	if err != nil {
		return "", apierrors.NewNotFound(podResource, pod)
	}
	state, err := a.podState(ctx, p.UID)
	if err != nil {
		return "", apierrors.NewInternalError(err)
	}
	sb := state.sandbox()
	if sb == nil || sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", apierrors.NewBadRequest(fmt.Sprintf("pod %q is not running", pod))
	}
	resp, err := a.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sb.Id, Port: ports})
	if err != nil {
		return "", apierrors.NewInternalError(fmt.Errorf("port-forward to pod %q: %s", pod, grpcMessage(err)))
	}
	return resp.Url, nil
}

// findContainer finds the pod bound to this node and its container's newest
// two instances.
func (a *Agent) findContainer(ctx context.Context, namespace, pod, container string) (*corev1.Pod, *containerState, *containerState, error) {
	if a.pods == nil {
		return nil, nil, nil, apierrors.NewServiceUnavailable("the node agent is starting")
	}
	p, err := a.pods.Pods(namespace).Get(pod)
	if err != nil {
		return nil, nil, nil, apierrors.NewNotFound(podResource, pod)
	}
	if specOf(p, container) == nil {
		return nil, nil, nil, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod))
	}
	state, err := a.podState(ctx, p.UID)
	if err != nil {
		return nil, nil, nil, apierrors.NewInternalError(err)
	}
	cur, prev := state.latest(container)
	return p, cur, prev, nil
}

func (a *Agent) runningContainer(ctx context.Context, namespace, pod, container string) (string, error) {
	p, cur, _, err := a.findContainer(ctx, namespace, pod, container)
	if err != nil {
		return "", err
	}
	if cur == nil || cur.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not running in pod %s (%s)", container, pod, a.waitingReason(p, container)))
	}
	return cur.id, nil
}

// waitingReason is the container's waiting reason as last reported.
func (a *Agent) waitingReason(p *corev1.Pod, container string) string {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name == container && cs.State.Waiting != nil {
				return cs.State.Waiting.Reason
			}
		}
	}
	return "ContainerCreating"
}
