package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// starter starts a pod's containers during one sync; it prepares the
// volumes once, before the first container.
type starter struct {
	w         *podWorker
	pod       *corev1.Pod
	sandboxID string
	attempt   uint32
	refs      *podRefs
	volumes   map[string]string
	// pidTarget, when set, is the container whose process namespace the
	// next container joins (an ephemeral container's target).
	pidTarget string
}

// start pulls the image, creates and starts one container (and runs its
// postStart hook), and records why when it could not. It reports whether the
// container runs.
func (s *starter) start(ctx context.Context, spec *corev1.Container, restartCount int, init bool) bool {
	w, a, pod := s.w, s.w.a, s.pod
	fail := func(reason string, err error, retry time.Duration) {
		if ctx.Err() != nil {
			return
		}
		msg := grpcMessage(err)
		w.waiting[spec.Name] = waiting{reason: reason, message: msg}
		w.log.Warn("container not started", "container", spec.Name, "reason", reason, "err", msg)
		w.syncAfter(retry)
	}
	imageRef, err := a.ensureImage(ctx, pod, spec)
	if err != nil {
		var pe *pullError
		if errors.As(err, &pe) {
			retry := a.opts.PullBackOffBase
			if pe.reason == "ErrImagePull" || pe.reason == "ImagePullBackOff" {
				key := string(pod.UID) + "/" + spec.Image
				retry = max(a.pullBackOff.Get(key), time.Second)
			}
			fail(pe.reason, err, retry)
			return false
		}
		fail("ErrImagePull", err, a.opts.PullBackOffBase)
		return false
	}
	if s.volumes == nil {
		vols, err := a.prepareVolumes(ctx, s.refs, pod, w.ips)
		if err != nil {
			a.event(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume failed: %v", err)
			fail("CreateContainerConfigError", err, 2*time.Second)
			return false
		}
		s.volumes = vols
		w.volumesAt = time.Now()
	}
	cfg, err := a.containerConfig(ctx, s.refs, pod, spec, imageRef, restartCount, init, w.ips, s.volumes)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		fail("CreateContainerConfigError", err, 2*time.Second)
		return false
	}
	if s.pidTarget != "" {
		ns := cfg.Linux.SecurityContext.NamespaceOptions
		ns.Pid, ns.TargetId = runtimeapi.NamespaceMode_TARGET, s.pidTarget
	}
	created, err := a.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  s.sandboxID,
		Config:        cfg,
		SandboxConfig: a.sandboxConfig(pod, s.attempt),
	})
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", grpcMessage(err))
		fail("CreateContainerError", err, 2*time.Second)
		return false
	}
	a.event(pod, corev1.EventTypeNormal, "Created", "Created container %s", spec.Name)
	if _, err := a.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", grpcMessage(err))
		fail("RunContainerError", err, time.Second)
		return false
	}
	a.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", spec.Name)
	delete(w.waiting, spec.Name)
	delete(w.restarting, spec.Name)
	if h := spec.Lifecycle; h != nil && h.PostStart != nil {
		if err := a.runHook(ctx, pod, spec, created.ContainerId, h.PostStart, w.ips, time.Duration(gracePeriodOf(pod))*time.Second); err != nil {
			a.event(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			_ = a.killContainer(ctx, pod, spec, created.ContainerId, gracePeriodOf(pod), fmt.Sprintf("FailedPostStartHook: %v", err))
			a.pruneContainers(ctx, pod.UID, spec.Name, 2)
			return false
		}
	}
	a.pruneContainers(ctx, pod.UID, spec.Name, 2)
	return true
}

// pruneContainers removes a container's exited instances beyond the newest
// keep (the running one and the previous one, which `kubectl logs --previous`
// and lastState need).
func (a *Agent) pruneContainers(ctx context.Context, uid types.UID, name string, keep int) {
	sel := map[string]string{labelPodUID: string(uid), labelContainer: name}
	resp, err := a.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return
	}
	var list []*containerState
	for _, c := range resp.Containers {
		list = append(list, containerFromCRI(c))
	}
	sortNewestFirst(list)
	for i, c := range list {
		if i >= keep && c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
			a.removeContainer(ctx, c.id)
		}
	}
}

func (a *Agent) removeContainer(ctx context.Context, id string) {
	if _, err := a.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil && !isNotFound(err) {
		a.log.Warn("removing container", "id", id, "err", err)
	}
}
