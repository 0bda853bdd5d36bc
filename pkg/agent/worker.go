package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// resyncPeriod is how often a worker syncs its pod when nothing happens.
const resyncPeriod = 10 * time.Second

// podWorker runs one pod: every sync reads the pod's state from the runtime,
// takes the next steps towards the pod's spec and posts the status. Syncs are
// triggered by the pod's changes, the runtime's changes (relist), probes,
// back-off timers and a periodic resync; they never overlap.
type podWorker struct {
	a      *Agent
	uid    types.UID
	log    *slog.Logger
	kickCh chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	// rejected is set, before the worker starts, for a pod refused at
	// admission: nothing of it ever runs.
	rejected *rejection

	mu      sync.Mutex
	pod     *corev1.Pod
	removed bool
	timer   *time.Timer
	timerAt time.Time // when timer fires; zero once it has

	// Touched by the worker goroutine only.
	waiting    map[string]waiting
	restarting map[string]bool
	ips        []string
	ipsOf      string // the sandbox ips belongs to
	failures   int    // consecutive sandbox failures
	tokens     tokenCache
	certs      podCertCache
	// applied holds the CPU and memory given to running containers since
	// they were created (in-place resizes), by container ID.
	applied map[string]corev1.ResourceRequirements
	// restartForResize names the containers stopped to be resized, which
	// start again whatever the pod's restart policy.
	restartForResize map[string]bool
	resizeWhy        string // why the pod's resize cannot be done, or ""
	// volumesAt is when the pod's volumes were last written from the
	// objects they show (zero: not yet written).
	volumesAt time.Time
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	ctx, cancel := context.WithCancel(context.Background())
	return &podWorker{
		a:       a,
		uid:     pod.UID,
		log:     a.log.With("pod", klogKey(pod)),
		kickCh:  make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		waiting: map[string]waiting{},
		tokens:  tokenCache{},
		certs:   podCertCache{},
		applied: map[string]corev1.ResourceRequirements{},

		restartForResize: map[string]bool{},
	}
}

// setPod records a newer version of the pod.
func (w *podWorker) setPod(p *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pod != nil && newerRV(w.pod.ResourceVersion, p.ResourceVersion) {
		return
	}
	w.pod = p
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

func (w *podWorker) kick() {
	select {
	case w.kickCh <- struct{}{}:
	default:
	}
}

// syncAfter schedules a sync in d. Of the syncs requested and not yet run,
// the earliest wins: every sync schedules again whatever it still needs.
func (w *podWorker) syncAfter(d time.Duration) {
	d = max(d, 10*time.Millisecond)
	at := time.Now().Add(d)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil && !w.timerAt.IsZero() && w.timerAt.Before(at) {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timerAt = at
	w.timer = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.timerAt = time.Time{}
		w.mu.Unlock()
		w.kick()
	})
}

// stop ends the worker without touching the pod.
func (w *podWorker) stop() { w.cancel() }

func (w *podWorker) run() {
	defer w.a.wg.Done()
	defer w.a.workerDone(w)
	resync := time.NewTicker(resyncPeriod)
	defer resync.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-w.kickCh:
		case <-resync.C:
		}
		if w.sync(w.ctx) {
			return
		}
	}
}

// sync takes the pod one step further; it returns true when the pod is gone
// for good and the worker can end.
func (w *podWorker) sync(ctx context.Context) bool {
	a := w.a
	pod, removed := w.snapshot()
	if removed || pod.DeletionTimestamp != nil {
		if err := w.terminate(ctx, pod, removed); err != nil {
			if ctx.Err() == nil {
				w.log.Error("terminating pod", "err", err)
				w.syncAfter(time.Second)
			}
			return false
		}
		return true
	}
	if w.rejected != nil {
		w.postRejection(ctx, pod)
		return false
	}
	state, err := a.podState(ctx, w.uid)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("reading the pod's runtime state", "err", err)
			w.syncAfter(time.Second)
		}
		return false
	}
	if w.pastDeadline(ctx, pod, state) {
		return false
	}
	var sandboxID string
	ready := false
	if isTerminal(pod.Status.Phase) {
		// Finished: nothing may run any more, and the address goes back;
		// the containers' statuses may still be completed (an OOM kill is
		// known a moment after the exit).
		w.stopAll(ctx, pod, state)
		a.prober.forget(w.uid)
		if len(state.sandboxes) == 0 && len(state.containers) == 0 {
			// Nothing of it is left (or ever ran: a pod rejected at
			// admission): the status the API has says more than ours.
			return false
		}
	} else {
		sandboxID, ready = w.act(ctx, pod, state)
	}
	if state, err = a.podState(ctx, w.uid); err != nil {
		if ctx.Err() == nil {
			w.syncAfter(time.Second)
		}
		return false
	}
	if ready {
		a.prober.sync(pod, w.probeTargets(pod, state, sandboxID))
		w.refreshVolumes(ctx, pod)
	}
	if justExited(state) {
		// The runtime learns some exit reasons (OOMKilled) just after the
		// exit itself; look again shortly.
		w.syncAfter(time.Second)
	}
	st := a.podStatus(statusInput{
		pod: pod, state: state, sandboxReady: ready, podIPs: w.ips,
		waiting: w.waiting, restarting: w.restarting, probes: a.prober,
		resources: w.appliedResources, resizeWhy: w.resizeWhy,
	})
	w.post(ctx, pod, st)
	if isTerminal(st.Phase) && !isTerminal(pod.Status.Phase) {
		w.kick() // stop what is left
	}
	return false
}

// pastDeadline enforces spec.activeDeadlineSeconds, counted from the pod's
// start on the node: a pod past it is stopped and failed with reason
// DeadlineExceeded, as upstream's kubelet does. Otherwise it schedules a
// sync for the moment the deadline passes (which a later update of the
// field may move).
func (w *podWorker) pastDeadline(ctx context.Context, pod *corev1.Pod, state *podState) bool {
	d := pod.Spec.ActiveDeadlineSeconds
	if d == nil || pod.Status.StartTime == nil || isTerminal(pod.Status.Phase) {
		return false
	}
	left := time.Until(pod.Status.StartTime.Add(time.Duration(*d) * time.Second))
	if left > 0 {
		w.syncAfter(left)
		return false
	}
	a := w.a
	a.event(pod, corev1.EventTypeNormal, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
	if err := a.killAll(ctx, pod, state, gracePeriodOf(pod)); err != nil && ctx.Err() == nil {
		w.log.Error("stopping a pod past its deadline", "err", err)
	}
	if state, err := a.podState(ctx, w.uid); err == nil {
		st := a.podStatus(statusInput{pod: pod, state: state, podIPs: w.ips, probes: a.prober})
		st.Phase, st.Reason, st.Message = corev1.PodFailed, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
		st.Conditions = a.podConditions(pod, &st, false)
		for _, c := range pod.Status.Conditions {
			if !ownedCondition(c.Type) {
				st.Conditions = append(st.Conditions, c)
			}
		}
		w.post(ctx, pod, st)
	}
	w.kick() // stop the sandbox as for any finished pod
	return true
}

// volumeRefreshPeriod is how often a running pod's config map, secret and
// token volumes are read again; downward API volumes follow every sync.
const volumeRefreshPeriod = 20 * time.Second

// refreshVolumes keeps the volumes of a pod whose containers started
// current with the objects they show.
func (w *podWorker) refreshVolumes(ctx context.Context, pod *corev1.Pod) {
	if w.volumesAt.IsZero() {
		return
	}
	withRefs := time.Since(w.volumesAt) >= volumeRefreshPeriod
	w.a.refreshVolumes(ctx, &podRefs{a: w.a, ns: pod.Namespace, tokens: w.tokens, certs: w.certs}, pod, w.ips, withRefs)
	if withRefs {
		w.volumesAt = time.Now()
	}
}

// justExited is true when a container of the pod exited in the last few
// seconds.
func justExited(state *podState) bool {
	for _, c := range state.containers {
		if c.status != nil && c.status.State == runtimeapi.ContainerState_CONTAINER_EXITED &&
			time.Since(time.Unix(0, c.status.FinishedAt)) < 3*time.Second {
			return true
		}
	}
	return false
}

// act creates the sandbox if needed and starts, restarts or kills containers.
// It returns the current sandbox and whether it is ready with an address.
func (w *podWorker) act(ctx context.Context, pod *corev1.Pod, state *podState) (string, bool) {
	a := w.a
	w.restarting = map[string]bool{}
	sb := state.sandbox()
	var sandboxID string
	var attempt uint32
	if sb == nil || sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		if sb != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && anyContainerCreated(pod, state) {
			// Its containers will not run again; neither will its sandbox.
			return "", false
		}
		for _, c := range state.containers {
			if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
				_ = a.killContainer(ctx, pod, specOf(pod, c.name), c.id, gracePeriodOf(pod), "")
			}
		}
		if sb != nil {
			attempt = sb.GetMetadata().GetAttempt() + 1
			a.event(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
			if _, err := a.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil && !isNotFound(err) {
				w.log.Warn("stopping the old sandbox", "err", err)
			}
		}
		id, err := a.runSandbox(ctx, pod, attempt)
		if err != nil {
			if ctx.Err() != nil {
				return "", false
			}
			w.failures++
			a.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", grpcMessage(err))
			w.log.Error("creating the pod sandbox", "err", err)
			w.syncAfter(min(time.Duration(w.failures)*time.Second, 30*time.Second))
			return "", false
		}
		w.failures = 0
		sandboxID = id
	} else {
		sandboxID, attempt = sb.Id, sb.GetMetadata().GetAttempt()
	}
	if w.ipsOf != sandboxID {
		ips, err := a.sandboxIPs(ctx, pod, sandboxID)
		if err != nil {
			w.log.Error("reading the sandbox's address", "err", err)
			w.syncAfter(time.Second)
			return sandboxID, false
		}
		w.ips, w.ipsOf = ips, sandboxID
	}
	if !pod.Spec.HostNetwork {
		if err := a.writeHostsFile(pod, w.ips); err != nil {
			w.log.Error("writing /etc/hosts", "err", err)
			w.syncAfter(time.Second)
			return sandboxID, true
		}
	}
	s := &starter{w: w, pod: pod, sandboxID: sandboxID, attempt: attempt, refs: &podRefs{a: a, ns: pod.Namespace, tokens: w.tokens, certs: w.certs}}

	// Init containers run one at a time, in order: each regular one to
	// success, each sidecar until it has started. Once an app container
	// exists the pod has initialized: regular init containers never run
	// again, and sidecars are only kept running.
	initialized := anyAppContainerIn(pod, state, sandboxID)
	finished := appsFinished(pod, state, sandboxID)
	for i := range pod.Spec.InitContainers {
		spec := &pod.Spec.InitContainers[i]
		c := state.inSandbox(spec.Name, sandboxID)
		if isSidecar(spec) {
			if finished {
				continue // stopped below, never restarted
			}
			if !w.syncSidecar(ctx, s, state, spec, c) && !initialized {
				return sandboxID, true
			}
			continue
		}
		if initialized {
			continue
		}
		switch {
		case c == nil:
			s.start(ctx, spec, nextRestartCount(state, spec.Name), true)
			return sandboxID, true
		case c.state == runtimeapi.ContainerState_CONTAINER_RUNNING:
			return sandboxID, true
		case c.state == runtimeapi.ContainerState_CONTAINER_EXITED && c.status != nil && c.status.ExitCode == 0:
			continue
		case c.state == runtimeapi.ContainerState_CONTAINER_CREATED:
			a.removeContainer(ctx, c.id)
			s.start(ctx, spec, c.restartCount, true)
			return sandboxID, true
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return sandboxID, true // the pod has failed
		}
		w.restarting[spec.Name] = true
		if !w.inBackOff(pod, spec, c) {
			s.start(ctx, spec, c.restartCount+1, true)
		}
		return sandboxID, true
	}

	w.pruneApplied(state)
	w.resizeWhy = a.resizeInfeasible(pod)
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		c := state.inSandbox(spec.Name, sandboxID)
		if c == nil {
			s.start(ctx, spec, nextRestartCount(state, spec.Name), false)
			continue
		}
		switch c.state {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			if !w.restartIfUnhealthy(ctx, pod, spec, c) && w.resizeWhy == "" {
				w.resize(ctx, pod, spec, c)
			}
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			// Created but never started: the agent stopped in between.
			a.removeContainer(ctx, c.id)
			s.start(ctx, spec, c.restartCount, false)
		default:
			if w.restartForResize[spec.Name] {
				delete(w.restartForResize, spec.Name)
				s.start(ctx, spec, c.restartCount+1, false)
				continue
			}
			if !shouldRestart(pod.Spec.RestartPolicy, c) {
				continue
			}
			w.restarting[spec.Name] = true
			if !w.inBackOff(pod, spec, c) {
				s.start(ctx, spec, c.restartCount+1, false)
			}
		}
	}
	if finished {
		// The app is done for good: its sidecars stop, last started first.
		w.stopSidecars(ctx, pod, state, sandboxID)
	}
	// Ephemeral containers (kubectl debug) run once each, never again.
	for i := range pod.Spec.EphemeralContainers {
		e := &pod.Spec.EphemeralContainers[i]
		if state.inSandbox(e.Name, sandboxID) != nil || !initialized {
			continue
		}
		spec := corev1.Container(e.EphemeralContainerCommon)
		if e.TargetContainerName != "" {
			target := state.inSandbox(e.TargetContainerName, sandboxID)
			if target == nil || target.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
				continue // its process namespace is not there (yet)
			}
			s.pidTarget = target.id
		}
		s.start(ctx, &spec, 0, false)
		s.pidTarget = ""
	}
	return sandboxID, true
}

// pruneApplied forgets the resources of containers that are gone.
func (w *podWorker) pruneApplied(state *podState) {
	for id := range w.applied {
		found := false
		for _, c := range state.containers {
			found = found || c.id == id
		}
		if !found {
			delete(w.applied, id)
		}
	}
}

// syncSidecar starts, restarts (whatever the pod's restart policy, with
// back-off) or checks one sidecar, and reports whether it has started:
// running, with its postStart hook done and its startup probe passed.
func (w *podWorker) syncSidecar(ctx context.Context, s *starter, state *podState, spec *corev1.Container, c *containerState) bool {
	switch {
	case c == nil:
		// Without a startup probe, a sidecar that runs (its postStart hook
		// done) has started: the next container need not wait for a sync.
		return s.start(ctx, spec, nextRestartCount(state, spec.Name), true) && spec.StartupProbe == nil
	case c.state == runtimeapi.ContainerState_CONTAINER_RUNNING:
		if w.restartIfUnhealthy(ctx, s.pod, spec, c) {
			return false
		}
		return spec.StartupProbe == nil || w.a.prober.succeeded(c.id, startupProbe)
	case c.state == runtimeapi.ContainerState_CONTAINER_CREATED:
		w.a.removeContainer(ctx, c.id)
		s.start(ctx, spec, c.restartCount, true)
		return false
	}
	w.restarting[spec.Name] = true
	if !w.inBackOff(s.pod, spec, c) {
		s.start(ctx, spec, c.restartCount+1, true)
	}
	return false
}

// restartIfUnhealthy kills a running container whose spec changed or whose
// liveness or startup probe failed (the next sync starts it again), and
// reports whether it did.
func (w *podWorker) restartIfUnhealthy(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *containerState) bool {
	a := w.a
	var why string
	switch {
	case c.hash != "" && c.hash != containerHash(spec) && c.hash != fullHash(spec):
		why = fmt.Sprintf("Container %s definition changed, will be restarted", spec.Name)
	case a.prober.failed(c.id, livenessProbe):
		why = fmt.Sprintf("Container %s failed liveness probe, will be restarted", spec.Name)
	case a.prober.failed(c.id, startupProbe):
		why = fmt.Sprintf("Container %s failed startup probe, will be restarted", spec.Name)
	default:
		return false
	}
	if err := a.killContainer(ctx, pod, spec, c.id, gracePeriodOf(pod), why); err != nil {
		w.log.Error("killing container", "container", spec.Name, "err", err)
	}
	w.kick()
	return true
}

// stopSidecars stops the pod's running sidecars one by one, in the reverse
// of their order in the spec.
func (w *podWorker) stopSidecars(ctx context.Context, pod *corev1.Pod, state *podState, sandboxID string) {
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		spec := &pod.Spec.InitContainers[i]
		if !isSidecar(spec) {
			continue
		}
		if c := state.inSandbox(spec.Name, sandboxID); c != nil && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			if err := w.a.killContainer(ctx, pod, spec, c.id, gracePeriodOf(pod), ""); err != nil {
				w.log.Error("stopping sidecar", "container", spec.Name, "err", err)
			}
		}
	}
}

// anyAppContainerIn is true when an app container was created in the
// sandbox: the pod has initialized.
func anyAppContainerIn(pod *corev1.Pod, state *podState, sandboxID string) bool {
	for _, spec := range pod.Spec.Containers {
		if state.inSandbox(spec.Name, sandboxID) != nil {
			return true
		}
	}
	return false
}

// appsFinished is true when every app container has exited for good under
// the pod's restart policy (never under Always).
func appsFinished(pod *corev1.Pod, state *podState, sandboxID string) bool {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || len(pod.Spec.Containers) == 0 {
		return false
	}
	for _, spec := range pod.Spec.Containers {
		c := state.inSandbox(spec.Name, sandboxID)
		if c == nil || c.state != runtimeapi.ContainerState_CONTAINER_EXITED || shouldRestart(pod.Spec.RestartPolicy, c) {
			return false
		}
	}
	return true
}

// anyContainerCreated is true when an app container of the pod ever existed.
func anyContainerCreated(pod *corev1.Pod, state *podState) bool {
	for _, spec := range pod.Spec.Containers {
		if c, _ := state.latest(spec.Name); c != nil {
			return true
		}
	}
	return false
}

func nextRestartCount(state *podState, name string) int {
	if c, _ := state.latest(name); c != nil {
		return c.restartCount + 1
	}
	return 0
}

// specOf finds a container of the pod by name: an app, init or ephemeral
// container (the last as a Container, which it is field for field).
func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if e := &pod.Spec.EphemeralContainers[i]; e.Name == name {
			c := corev1.Container(e.EphemeralContainerCommon)
			return &c
		}
	}
	return nil
}

func shouldRestart(policy corev1.RestartPolicy, c *containerState) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return c.status == nil || c.status.ExitCode != 0 || c.state != runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return true
}

func backOffKey(pod *corev1.Pod, c *corev1.Container) string {
	return fmt.Sprintf("%s_%s_%s_%s_%s", pod.Name, pod.Namespace, pod.UID, c.Name, containerHash(c))
}

// inBackOff applies upstream's crash-loop back-off to an exited container:
// the first restart is immediate, then each waits for the delay (doubling
// from BackOffBase up to BackOffMax) counted from the container's exit.
func (w *podWorker) inBackOff(pod *corev1.Pod, spec *corev1.Container, c *containerState) bool {
	a := w.a
	key := backOffKey(pod, spec)
	finished := timeNow()
	if c.status != nil && c.status.FinishedAt != 0 {
		finished = time.Unix(0, c.status.FinishedAt)
	}
	if a.backOff.IsInBackOffSince(key, finished) {
		d := a.backOff.Get(key)
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d, spec.Name, pod.Name, pod.Namespace, pod.UID)
		if w.waiting[spec.Name].message != msg {
			a.event(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", spec.Name, pod.Name, pod.Namespace, pod.UID)
		}
		w.waiting[spec.Name] = waiting{reason: "CrashLoopBackOff", message: msg}
		w.syncAfter(time.Until(finished.Add(d)))
		return true
	}
	a.backOff.Next(key, finished)
	return false
}

// probeTargets lists the pod's running sidecars and app containers in the
// sandbox.
func (w *podWorker) probeTargets(pod *corev1.Pod, state *podState, sandboxID string) []probeTarget {
	var out []probeTarget
	ip := ""
	if len(w.ips) > 0 {
		ip = w.ips[0]
	}
	specs := make([]*corev1.Container, 0, len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			specs = append(specs, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		specs = append(specs, &pod.Spec.Containers[i])
	}
	for _, spec := range specs {
		c := state.inSandbox(spec.Name, sandboxID)
		if c == nil || c.state != runtimeapi.ContainerState_CONTAINER_RUNNING || c.status == nil {
			continue
		}
		out = append(out, probeTarget{uid: pod.UID, pod: pod, container: spec, id: c.id, podIP: ip, startedAt: time.Unix(0, c.status.StartedAt)})
	}
	return out
}
