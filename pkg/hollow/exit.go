package hollow

import (
	"context"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// exit is how a hollow container ends: with code, after running for after.
type exit struct {
	code  int32
	after time.Duration
}

// shells are the programs whose "-c SCRIPT" is read as a script.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true}

// containerExit reads a container's command and args (joined) as the
// process it would run, and says whether and how it exits:
//
//   - true, :, echo … → 0 at once; false → 1 at once; exit N → N at once;
//   - sleep N (seconds; a decimal or with an s, m or h suffix) → 0 after N;
//   - SHELL -c SCRIPT (sh, bash, ash, dash, zsh, by any path): the script's
//     statements, split at ';', '&&', '||' and newlines, run in turn:
//     sleep N takes N, exit N ends it with N, true, false, ':' and echo …
//     take no time. A script with an exit N ends with N after the sleeps
//     before it, whatever else it runs; a script of only those statements
//     ends with the last one's status; any other script runs forever.
//
// Anything else (no command: the image's server) runs until deleted.
func containerExit(c *corev1.Container) (exit, bool) {
	words := append(append([]string(nil), c.Command...), c.Args...)
	if len(words) == 0 {
		return exit{}, false
	}
	if len(words) >= 3 && shells[path.Base(words[0])] && words[1] == "-c" {
		return scriptExit(strings.Join(words[2:], " "))
	}
	words[0] = path.Base(words[0])
	var e exit
	ok, ended := statement(words, &e)
	return e, ok || ended
}

func scriptExit(script string) (exit, bool) {
	r := strings.NewReplacer("&&", ";", "||", ";", "\n", ";")
	var e exit
	known := true
	for stmt := range strings.SplitSeq(r.Replace(script), ";") {
		words := strings.Fields(stmt)
		if len(words) == 0 {
			continue
		}
		ok, ended := statement(words, &e)
		if ended {
			return e, true
		}
		known = known && ok
	}
	return e, known
}

// statement runs one command of a script on e: ok when it is one that
// hollow containers know, ended when it was an exit.
func statement(words []string, e *exit) (ok, ended bool) {
	switch words[0] {
	case "true", ":":
		e.code = 0
		return true, false
	case "false":
		e.code = 1
		return true, false
	case "echo":
		e.code = 0
		return true, false
	case "exit":
		e.code = 0
		if len(words) > 1 {
			n, err := strconv.ParseUint(words[1], 10, 8)
			if err != nil {
				return false, false
			}
			e.code = int32(n)
		}
		return true, true
	case "sleep":
		if len(words) != 2 {
			return false, false
		}
		d, err := time.ParseDuration(words[1])
		if err != nil {
			d, err = time.ParseDuration(words[1] + "s")
		}
		if err != nil || d < 0 {
			return false, false // sleep infinity: a server
		}
		e.after += d
		e.code = 0
		return true, false
	}
	return false, false
}

// restartDelay is how long a container restarted after a failure runs at
// least before it may exit again: 1 s, doubling per restart, at most 10 s. (A
// kubelet waits 10 s doubling to 5 min before the restart; hollow nodes keep
// it short.)
func restartDelay(restarts int32) time.Duration {
	if restarts <= 0 {
		return 0
	}
	return min(time.Second<<min(restarts-1, 4), 10*time.Second)
}

// finishContainers ends the containers of a running pod whose command exits
// (see containerExit) once their time has come, as a kubelet reports it:
// terminated with the exit code and reason Completed or Error; with
// restartPolicy OnFailure a failed one is restarted (restartCount+1), and the
// pod is Succeeded or Failed once no container runs or will run again. It
// reports whether it handled the pod (some container exited, now or
// before); the pod is queued again for the next exit due.
func (n *Node) finishContainers(ctx context.Context, pod *corev1.Pod, key string) (bool, error) {
	policy := pod.Spec.RestartPolicy
	if policy == corev1.RestartPolicyAlways || policy == "" || len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return false, nil
	}
	now := n.clock.Now()
	s := pod.Status.DeepCopy()
	changed, exited, running, failed := false, false, 0, false
	var next time.Duration
	for i := range s.ContainerStatuses {
		cs := &s.ContainerStatuses[i]
		if t := cs.State.Terminated; t != nil {
			exited = true
			failed = failed || t.ExitCode != 0
			continue
		}
		running++
		spec := containerSpec(pod, cs.Name)
		if spec == nil || cs.State.Running == nil {
			continue
		}
		e, ok := containerExit(spec)
		if !ok {
			continue
		}
		after := max(e.after, restartDelay(cs.RestartCount))
		if after > 0 {
			after += time.Second // StartedAt is whole seconds: never exit early
		}
		if left := cs.State.Running.StartedAt.Add(after).Sub(now); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		reason := "Completed"
		if e.code != 0 {
			reason = "Error"
		}
		done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: e.code, Reason: reason,
			StartedAt: cs.State.Running.StartedAt, FinishedAt: metav1.NewTime(now), ContainerID: cs.ContainerID}}
		changed, exited = true, true
		if e.code != 0 && policy == corev1.RestartPolicyOnFailure {
			cs.LastTerminationState = done
			cs.RestartCount++
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
			if d := restartDelay(cs.RestartCount) + time.Second; next == 0 || d < next {
				next = d
			}
			continue
		}
		cs.State = done
		cs.Ready, cs.Started = false, new(bool)
		running--
		failed = failed || e.code != 0
	}
	if next > 0 {
		n.queue.AddAfter(key, next)
	}
	if !changed {
		return exited, nil
	}
	switch {
	case running == len(s.ContainerStatuses):
		// Only restarts: every container runs again.
	case running > 0:
		setNotReady(s, "ContainersNotReady", now)
	case failed:
		s.Phase = corev1.PodFailed
		setNotReady(s, "PodFailed", now)
	default:
		s.Phase = corev1.PodSucceeded
		setNotReady(s, "PodCompleted", now)
	}
	updated := pod.DeepCopy()
	updated.Status = *s
	err := n.write(ctx, func() error {
		_, err := n.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		err = nil
	}
	return true, err
}

// stoppedStatus is the status of a pod whose containers were stopped: those
// still running exit with 143 (they end at once on SIGTERM), and the pod is
// Failed (Succeeded if every container had exited 0 already).
func stoppedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	s := pod.Status.DeepCopy()
	s.Phase = corev1.PodSucceeded
	for i := range s.ContainerStatuses {
		cs := &s.ContainerStatuses[i]
		if cs.State.Terminated == nil {
			var started metav1.Time
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Reason: "Error",
				StartedAt: started, FinishedAt: metav1.NewTime(now), ContainerID: cs.ContainerID}}
			cs.Ready, cs.Started = false, new(bool)
		}
		if cs.State.Terminated.ExitCode != 0 {
			s.Phase = corev1.PodFailed
		}
	}
	if len(s.ContainerStatuses) == 0 {
		s.Phase = corev1.PodFailed // never started
	}
	setNotReady(s, "PodFailed", now)
	if s.Phase == corev1.PodSucceeded {
		setNotReady(s, "PodCompleted", now)
	}
	return *s
}

// setNotReady marks a pod's containers not ready (Ready and ContainersReady
// False with reason).
func setNotReady(s *corev1.PodStatus, reason string, now time.Time) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type != corev1.PodReady && c.Type != corev1.ContainersReady {
			continue
		}
		if c.Status != corev1.ConditionFalse {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason = corev1.ConditionFalse, reason
	}
}

func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}
