package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// minGracePeriod is what a container has left after its preStop hook, at
// least (upstream's minimumGracePeriodInSeconds).
const minGracePeriod = 2

// killContainer runs the container's preStop hook, then stops it: the
// runtime sends the stop signal (SIGTERM unless the image says otherwise) and
// SIGKILL once grace seconds have passed. why, when set, is the Killing
// event's message.
func (a *Agent) killContainer(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, id string, grace int64, why string) error {
	name := "container"
	if spec != nil {
		name = spec.Name
	}
	if why == "" {
		why = "Stopping container " + name
	}
	a.event(pod, corev1.EventTypeNormal, "Killing", "%s", why)
	if spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && grace > 0 {
		start := time.Now()
		ips := []string{pod.Status.PodIP}
		if err := a.runHook(ctx, pod, spec, id, spec.Lifecycle.PreStop, ips, time.Duration(grace)*time.Second); err != nil {
			a.event(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
		grace = max(grace-int64(time.Since(start).Seconds()), minGracePeriod)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second+time.Minute)
	defer cancel()
	_, err := a.runtime.StopContainer(cctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", name, err)
	}
	return nil
}

// killAll stops every running container of the pod with the given grace
// period, as upstream orders it: the app (and any regular init) containers
// together first, so that their preStop hooks can still reach the sidecars,
// then the sidecars one at a time, last started first, with what is left of
// the grace period.
func (a *Agent) killAll(ctx context.Context, pod *corev1.Pod, state *podState, grace int64) error {
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	var wg sync.WaitGroup
	errs := make([]error, len(state.containers))
	sidecars := map[string]string{} // name → running container ID
	for i, c := range state.containers {
		if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING && c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
			continue
		}
		spec := specOf(pod, c.name)
		if spec != nil && isSidecar(spec) {
			sidecars[c.name] = c.id
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.killContainer(ctx, pod, spec, c.id, grace, "")
		}()
	}
	wg.Wait()
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		spec := &pod.Spec.InitContainers[i]
		if id, ok := sidecars[spec.Name]; ok {
			left := max(int64(time.Until(deadline).Seconds()), minGracePeriod)
			if grace == 0 {
				left = 0
			}
			errs = append(errs, a.killContainer(ctx, pod, spec, id, left, ""))
		}
	}
	return errors.Join(errs...)
}

// stopAll makes sure nothing of a finished pod runs: containers stopped,
// sandboxes stopped (the pod's address is released).
func (w *podWorker) stopAll(ctx context.Context, pod *corev1.Pod, state *podState) {
	a := w.a
	if err := a.killAll(ctx, pod, state, gracePeriodOf(pod)); err != nil && ctx.Err() == nil {
		w.log.Error("stopping a finished pod's containers", "err", err)
	}
	for _, sb := range state.sandboxes {
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if _, err := a.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil && !isNotFound(err) && ctx.Err() == nil {
				w.log.Error("stopping a finished pod's sandbox", "err", err)
			}
		}
	}
}

// terminate ends a pod being deleted: its containers get the grace period
// (SIGTERM, then SIGKILL), its sandboxes are stopped and removed, its files
// go, and then the pod object is deleted for good (unless it is gone already).
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, removed bool) error {
	a := w.a
	state, err := a.podState(ctx, w.uid)
	if err != nil {
		return err
	}
	a.prober.forget(w.uid)
	if err := a.killAll(ctx, pod, state, gracePeriod(pod)); err != nil {
		return err
	}
	if !removed && len(pod.Finalizers) > 0 && !isTerminal(pod.Status.Phase) {
		// The object outlives its containers (a Job's pod keeps its tracking
		// finalizer): post how they ended, as a kubelet does, so that its
		// controller sees the pod finished rather than terminating forever.
		if err := w.postFinal(ctx, pod); err != nil {
			return err
		}
	}
	if err := a.removeSandboxes(ctx, state.sandboxes); err != nil {
		return err
	}
	a.removePodFiles(pod)
	if removed {
		return nil
	}
	uid := pod.UID
	err = a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod: %w", err)
	}
	return nil
}

// removeSandboxes stops and removes sandboxes (and with them their
// containers).
func (a *Agent) removeSandboxes(ctx context.Context, sbs []*runtimeapi.PodSandbox) error {
	var errs []error
	for _, sb := range sbs {
		if err := a.stopSandbox(ctx, sb.Id); err != nil {
			errs = append(errs, fmt.Errorf("stopping sandbox %s: %w", sb.Id, err))
			continue
		}
		if _, err := a.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

// postFinal posts the status of a deleted pod whose containers were all
// stopped: their exits, and a terminal phase (Succeeded when every container
// exited 0, else Failed), whatever its restart policy.
func (w *podWorker) postFinal(ctx context.Context, pod *corev1.Pod) error {
	state, err := w.a.podState(ctx, w.uid)
	if err != nil {
		return err
	}
	st := w.a.podStatus(statusInput{pod: pod, state: state, podIPs: w.ips, probes: w.a.prober})
	st.Phase = finalPhase(st.ContainerStatuses)
	w.post(ctx, pod, st)
	return nil
}

// finalPhase is the phase of a pod whose containers have all stopped for
// good: Succeeded if each one exited 0, else Failed (upstream's kubelet for a
// terminal pod).
func finalPhase(statuses []corev1.ContainerStatus) corev1.PodPhase {
	if len(statuses) == 0 {
		return corev1.PodFailed
	}
	for _, s := range statuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// stopSandbox stops a sandbox and its containers. A container that exits
// while it is killed can fail the stop with its shim gone before containerd
// has seen the exit; a second try a moment later finds it exited.
func (a *Agent) stopSandbox(ctx context.Context, id string) error {
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			}
		}
		_, err = a.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
		if err == nil || isNotFound(err) {
			return nil
		}
	}
	return err
}
