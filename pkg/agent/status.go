package agent

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// waiting is why a container is not running, as the worker last saw it.
type waiting struct{ reason, message string }

// statusInput is everything a pod's status is computed from.
type statusInput struct {
	pod          *corev1.Pod
	state        *podState
	sandboxReady bool
	podIPs       []string
	waiting      map[string]waiting // by container name
	restarting   map[string]bool    // exited containers the worker will restart
	probes       *prober
	// resources reports what a running container's cgroups were given.
	resources func(*containerState) (corev1.ResourceRequirements, bool)
	resizeWhy string // why the pod's resize cannot be done, or ""
}

// podStatus computes the pod's status as upstream's kubelet does
// (generateAPIPodStatus): container statuses, phase, conditions, IPs.
func (a *Agent) podStatus(in statusInput) corev1.PodStatus {
	pod := in.pod
	old := pod.Status
	st := corev1.PodStatus{
		// The spec this status was computed from, as a kubelet reports it.
		ObservedGeneration:    pod.Generation,
		QOSClass:              old.QOSClass,
		NominatedNodeName:     old.NominatedNodeName,
		StartTime:             old.StartTime,
		HostIP:                a.opts.NodeIP,
		HostIPs:               []corev1.HostIP{{IP: a.opts.NodeIP}},
		Resize:                old.Resize,
		ResourceClaimStatuses: old.ResourceClaimStatuses,
	}
	if st.StartTime == nil {
		now := metav1.NewTime(timeNow())
		st.StartTime = &now
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	if in.sandboxReady && len(in.podIPs) > 0 {
		st.PodIP = in.podIPs[0]
		for _, ip := range in.podIPs {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
		}
	} else if old.PodIP != "" && in.state.sandbox() != nil {
		// A stopped sandbox keeps reporting the address it had.
		st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	}
	for i := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, a.containerStatus(in, &pod.Spec.InitContainers[i], true))
	}
	for i := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, a.containerStatus(in, &pod.Spec.Containers[i], false))
	}
	for i := range pod.Spec.EphemeralContainers {
		spec := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		cs := a.containerStatus(in, &spec, false)
		cs.Ready = false // never probed, never counted
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, cs)
	}
	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses)
	if isTerminal(old.Phase) {
		// A finished pod never comes back, and keeps why it finished.
		st.Phase, st.Reason, st.Message = old.Phase, old.Reason, old.Message
	}
	st.Conditions = a.podConditions(pod, &st, in.sandboxReady && len(in.podIPs) > 0)
	if c := resizeCondition(pod, in.resizeWhy); c != nil {
		st.Conditions = append(st.Conditions, *c)
	}
	for _, c := range old.Conditions {
		if !ownedCondition(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st
}

func isTerminal(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// containerStatus reports one container from its newest instance (and the
// one before it, for lastState).
func (a *Agent) containerStatus(in statusInput, spec *corev1.Container, init bool) corev1.ContainerStatus {
	cur, prev := in.state.latest(spec.Name)
	cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: new(bool)}
	w, hasWaiting := in.waiting[spec.Name]
	if cur == nil || cur.status == nil {
		// Upstream's default: every container of a pod with init
		// containers waits as PodInitializing until it is created.
		reason := "ContainerCreating"
		if len(in.pod.Spec.InitContainers) > 0 {
			reason = "PodInitializing"
		}
		if hasWaiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		return cs
	}
	s := cur.status
	cs.ContainerID = a.runtimeName + "://" + cur.id
	cs.RestartCount = int32(cur.restartCount)
	if img := s.GetImage().GetImage(); img != "" && !strings.HasPrefix(img, "sha256:") {
		cs.Image = img
	}
	cs.ImageID = s.ImageRef
	switch s.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: nsTime(s.StartedAt)}
		if in.resources != nil {
			if r, ok := in.resources(cur); ok {
				cs.Resources = &r
				cs.AllocatedResources = allocated(spec.Resources.Requests, r.Requests)
			}
		}
		started := true
		if spec.StartupProbe != nil {
			started = in.probes.succeeded(cur.id, startupProbe)
		}
		*cs.Started = started
		// A regular init container is ready once it has succeeded, not
		// while it runs.
		cs.Ready = (!init || isSidecar(spec)) && started && (spec.ReadinessProbe == nil || in.probes.succeeded(cur.id, readinessProbe))
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	default:
		cs.State.Terminated = a.terminated(in.pod, spec, cur)
		cs.Ready = init && !isSidecar(spec) && s.ExitCode == 0
	}
	if prev != nil && prev.status != nil && prev.status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		cs.LastTerminationState.Terminated = a.terminated(in.pod, spec, prev)
	}
	// An exited container the worker will start again is waiting, and its
	// last run is the last state.
	if cs.State.Terminated != nil && (hasWaiting || in.restarting[spec.Name]) {
		cs.LastTerminationState.Terminated = cs.State.Terminated
		cs.State.Terminated = nil
		if hasWaiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
	} else if hasWaiting && cs.State.Running == nil {
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}}
	}
	return cs
}

// allocated is a container's allocatedResources: its requests, with the
// CPU and memory its cgroups were given.
func allocated(requests, applied corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for name, q := range requests {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = q
		}
	}
	for name, q := range applied {
		if out == nil {
			out = corev1.ResourceList{}
		}
		out[name] = q
	}
	return out
}

// isSidecar is true for a restartable init container (restartPolicy
// Always): it starts in order with the init containers and then runs beside
// the app's containers for the pod's whole life.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// terminated is a finished container's state, with the termination message
// the container wrote (or, with FallbackToLogsOnError, its log's tail).
func (a *Agent) terminated(pod *corev1.Pod, spec *corev1.Container, c *containerState) *corev1.ContainerStateTerminated {
	s := c.status
	t := &corev1.ContainerStateTerminated{
		ExitCode:    s.ExitCode,
		Reason:      s.Reason,
		Message:     s.Message,
		StartedAt:   nsTime(s.StartedAt),
		FinishedAt:  nsTime(s.FinishedAt),
		ContainerID: a.runtimeName + "://" + c.id,
	}
	if t.Reason == "" {
		t.Reason = "Error"
		if s.ExitCode == 0 {
			t.Reason = "Completed"
		}
	}
	if msg := a.terminationMessage(pod, spec, c); msg != "" {
		t.Message = msg
	}
	return t
}

// maxTerminationMessage is upstream's limit on a termination message.
const maxTerminationMessage = 4096

func (a *Agent) terminationMessage(pod *corev1.Pod, spec *corev1.Container, c *containerState) string {
	if spec.TerminationMessagePath != "" {
		if b, err := os.ReadFile(a.terminationLog(pod, spec.Name, c.restartCount)); err == nil && len(b) > 0 {
			if len(b) > maxTerminationMessage {
				b = b[:maxTerminationMessage]
			}
			return string(b)
		}
	}
	if spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && c.status.ExitCode != 0 && c.status.LogPath != "" {
		if b, err := os.ReadFile(c.status.LogPath); err == nil {
			return tailLogMessage(b, 80, 2048)
		}
	}
	return ""
}

// tailLogMessage returns the messages of the last lines of a CRI log (each
// line is "TIME STREAM TAG MESSAGE"), at most maxBytes.
func tailLogMessage(b []byte, lines, maxBytes int) string {
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	var out []string
	for _, l := range all {
		parts := strings.SplitN(l, " ", 4)
		if len(parts) == 4 {
			out = append(out, parts[3])
		}
	}
	msg := strings.Join(out, "\n")
	if len(msg) > maxBytes {
		msg = msg[len(msg)-maxBytes:]
	}
	return msg
}

func nsTime(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns))
}

// podPhase is upstream's getPhase: regular init containers must all have
// succeeded, sidecars must have started (until the pod has initialized once),
// and the app containers decide the rest; sidecars never make a pod fail or
// succeed.
func podPhase(pod *corev1.Pod, initStatuses, statuses []corev1.ContainerStatus) corev1.PodPhase {
	pendingInit, pendingSidecars, failedInit := 0, 0, 0
	unknown, running, waitingN, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		s := statusByName(initStatuses, ic.Name)
		if isSidecar(ic) {
			switch {
			case s == nil:
				unknown++
			case s.State.Running != nil:
				if s.Started == nil || !*s.Started {
					pendingSidecars++
				}
				running++
			case s.State.Terminated != nil, s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
				// A sidecar that exited does not count.
			case s.State.Waiting != nil:
				pendingSidecars++
				waitingN++
			default:
				pendingSidecars++
				unknown++
			}
			continue
		}
		switch {
		case s == nil, s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			if s.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	for _, c := range pod.Spec.Containers {
		s := statusByName(statuses, c.Name)
		switch {
		case s == nil:
			unknown++
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waitingN++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 || failedInit > 0 || pendingSidecars > 0 && !anyAppStarted(statuses):
		return corev1.PodPending
	case waitingN > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		switch {
		case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func statusByName(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// anyAppStarted is true once an app container has run: the pod has
// initialized, and a sidecar restarting later does not make it Pending again.
func anyAppStarted(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

// ownedCondition is true for the conditions the kubelet computes; others
// (DisruptionTarget, readiness gates) are kept as the API has them.
func ownedCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers,
		corev1.PodResizePending, corev1.PodResizeInProgress:
		return true
	}
	return false
}

func (a *Agent) podConditions(pod *corev1.Pod, st *corev1.PodStatus, sandboxReady bool) []corev1.PodCondition {
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
		if !ok {
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, msg
		}
		return c
	}
	// Initialized: regular init containers succeeded (ready) and sidecars
	// started, or an app container has run already.
	var notInit []string
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		s := statusByName(st.InitContainerStatuses, ic.Name)
		if s == nil || isSidecar(ic) && (s.Started == nil || !*s.Started) || !isSidecar(ic) && !s.Ready {
			notInit = append(notInit, ic.Name)
		}
	}
	// ContainersReady: sidecars and app containers ready.
	var unready []string
	for i := range pod.Spec.InitContainers {
		if ic := &pod.Spec.InitContainers[i]; isSidecar(ic) {
			if s := statusByName(st.InitContainerStatuses, ic.Name); s == nil || !s.Ready {
				unready = append(unready, ic.Name)
			}
		}
	}
	for _, s := range st.ContainerStatuses {
		if !s.Ready {
			unready = append(unready, s.Name)
		}
	}
	completed := st.Phase == corev1.PodSucceeded
	initOK := len(notInit) == 0 || completed || anyAppStarted(st.ContainerStatuses)
	initCond := cond(corev1.PodInitialized, initOK, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " ")))
	if completed {
		initCond.Reason = "PodCompleted"
	}
	readyReason := "ContainersNotReady"
	if isTerminal(st.Phase) {
		readyReason = "PodCompleted"
		if st.Phase == corev1.PodFailed {
			readyReason = "PodFailed"
		}
	}
	readyMsg := ""
	if len(unready) > 0 {
		readyMsg = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	containersReady := len(unready) == 0 && !isTerminal(st.Phase)
	ready := cond(corev1.PodReady, containersReady, readyReason, readyMsg)
	if containersReady {
		var missing []string
		for _, g := range pod.Spec.ReadinessGates {
			ok := false
			for _, c := range pod.Status.Conditions {
				ok = ok || (c.Type == g.ConditionType && c.Status == corev1.ConditionTrue)
			}
			if !ok {
				missing = append(missing, string(g.ConditionType))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			ready = cond(corev1.PodReady, false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0]))
		}
	}
	conds := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, sandboxReady, "", ""),
		initCond,
		ready,
		cond(corev1.ContainersReady, containersReady, readyReason, readyMsg),
		cond(corev1.PodScheduled, true, "", ""),
	}
	now := metav1.NewTime(timeNow())
	for i := range conds {
		conds[i].LastTransitionTime = now
		// The kubelet's conditions observe this generation; PodScheduled
		// is the scheduler's, and keeps what it had.
		if conds[i].Type != corev1.PodScheduled {
			conds[i].ObservedGeneration = pod.Generation
		}
		for _, o := range pod.Status.Conditions {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
				conds[i].LastProbeTime = o.LastProbeTime
			}
			if o.Type == corev1.PodScheduled && conds[i].Type == corev1.PodScheduled {
				conds[i].ObservedGeneration = o.ObservedGeneration
			}
		}
	}
	return conds
}

// statusChanged is true when the status differs from the one the API has in
// anything but timestamps that are kept anyway.
func statusChanged(old, cur *corev1.PodStatus) bool {
	return !apiequality.Semantic.DeepEqual(old, cur)
}
