package printers_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

func TestPodCells(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	started := true
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	terminated := func(reason string, code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}
	}
	lastExit := func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}}
	}
	pod := func(phase corev1.PodPhase, containers int, statuses ...corev1.ContainerStatus) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: objectMeta("web-7d9f", 3*time.Hour),
			Status:     corev1.PodStatus{Phase: phase, ContainerStatuses: statuses},
		}
		for i := 0; i < containers; i++ {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i))})
		}
		return p
	}

	tests := []struct {
		name string
		pod  *corev1.Pod
		want []interface{}
	}{{
		name: "pending, not scheduled",
		pod:  pod(corev1.PodPending, 1),
		want: []interface{}{"web-7d9f", "0/1", "Pending", "0", "3h", "<none>", "<none>", "<none>", "<none>"},
	}, {
		name: "container creating",
		pod:  onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("ContainerCreating")})),
		want: []interface{}{"web-7d9f", "0/1", "ContainerCreating", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "running and ready",
		pod:  onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running})),
		want: []interface{}{"web-7d9f", "1/1", "Running", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "one of two ready",
		pod: onNode(pod(corev1.PodRunning, 2,
			corev1.ContainerStatus{Name: "a", Ready: true, State: running},
			corev1.ContainerStatus{Name: "b", Ready: false, State: running})),
		want: []interface{}{"web-7d9f", "1/2", "Running", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "crash loop with the last restart 12s ago",
		pod: onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{
			Name: "a", State: waiting("CrashLoopBackOff"), RestartCount: 5, LastTerminationState: lastExit(12 * time.Second),
		})),
		want: []interface{}{"web-7d9f", "0/1", "CrashLoopBackOff", "5 (12s ago)", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "restarts summed, newest restart wins",
		pod: onNode(pod(corev1.PodRunning, 2,
			corev1.ContainerStatus{Name: "a", Ready: true, State: running, RestartCount: 2, LastTerminationState: lastExit(2 * time.Hour)},
			corev1.ContainerStatus{Name: "b", Ready: true, State: running, RestartCount: 1, LastTerminationState: lastExit(5 * time.Minute)})),
		want: []interface{}{"web-7d9f", "2/2", "Running", "3 (5m ago)", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "restarts without a finish time",
		pod:  onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running, RestartCount: 4})),
		want: []interface{}{"web-7d9f", "1/1", "Running", "4", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "image pull backoff",
		pod:  onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("ImagePullBackOff")})),
		want: []interface{}{"web-7d9f", "0/1", "ImagePullBackOff", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "err image pull",
		pod:  onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("ErrImagePull")})),
		want: []interface{}{"web-7d9f", "0/1", "ErrImagePull", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "completed",
		pod:  onNode(pod(corev1.PodSucceeded, 1, corev1.ContainerStatus{Name: "a", State: terminated("Completed", 0)})),
		want: []interface{}{"web-7d9f", "0/1", "Completed", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "error",
		pod:  onNode(pod(corev1.PodFailed, 1, corev1.ContainerStatus{Name: "a", State: terminated("Error", 1)})),
		want: []interface{}{"web-7d9f", "0/1", "Error", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "terminated without a reason shows the exit code",
		pod:  onNode(pod(corev1.PodFailed, 1, corev1.ContainerStatus{Name: "a", State: terminated("", 137)})),
		want: []interface{}{"web-7d9f", "0/1", "ExitCode:137", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "terminated by a signal",
		pod: onNode(pod(corev1.PodFailed, 1, corev1.ContainerStatus{Name: "a", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{Signal: 9, ExitCode: 137},
		}})),
		want: []interface{}{"web-7d9f", "0/1", "Signal:9", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "one container completed, one still running and pod ready",
		pod: withConditions(onNode(pod(corev1.PodRunning, 2,
			corev1.ContainerStatus{Name: "a", Ready: true, State: running},
			corev1.ContainerStatus{Name: "b", State: terminated("Completed", 0)})),
			corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}),
		want: []interface{}{"web-7d9f", "1/2", "Running", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "one container completed, one still running and pod not ready",
		pod: onNode(pod(corev1.PodRunning, 2,
			corev1.ContainerStatus{Name: "a", Ready: true, State: running},
			corev1.ContainerStatus{Name: "b", State: terminated("Completed", 0)})),
		want: []interface{}{"web-7d9f", "1/2", "NotReady", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "terminating",
		pod:  deleting(onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running}))),
		want: []interface{}{"web-7d9f", "1/1", "Terminating", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "a finished pod being deleted keeps its status",
		pod:  deleting(onNode(pod(corev1.PodSucceeded, 1, corev1.ContainerStatus{Name: "a", State: terminated("Completed", 0)}))),
		want: []interface{}{"web-7d9f", "0/1", "Completed", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "evicted",
		pod:  withReason(onNode(pod(corev1.PodFailed, 1)), "Evicted"),
		want: []interface{}{"web-7d9f", "0/1", "Evicted", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "node lost",
		pod:  withReason(onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running})), "NodeLost"),
		want: []interface{}{"web-7d9f", "1/1", "NodeLost", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "node lost and being deleted",
		pod:  deleting(withReason(onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running})), "NodeLost")),
		want: []interface{}{"web-7d9f", "1/1", "Unknown", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "scheduling gated",
		pod: withConditions(pod(corev1.PodPending, 1),
			corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}),
		want: []interface{}{"web-7d9f", "0/1", "SchedulingGated", "0", "3h", "<none>", "<none>", "<none>", "<none>"},
	}, {
		name: "first init container running",
		pod: withInit(onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("PodInitializing")})),
			[]corev1.Container{{Name: "init-db"}, {Name: "init-cache"}},
			corev1.ContainerStatus{Name: "init-db", State: running},
			corev1.ContainerStatus{Name: "init-cache", State: waiting("PodInitializing")}),
		want: []interface{}{"web-7d9f", "0/1", "Init:0/2", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "second init container running",
		pod: withInit(onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("PodInitializing")})),
			[]corev1.Container{{Name: "init-db"}, {Name: "init-cache"}},
			corev1.ContainerStatus{Name: "init-db", State: terminated("Completed", 0)},
			corev1.ContainerStatus{Name: "init-cache", State: running}),
		want: []interface{}{"web-7d9f", "0/1", "Init:1/2", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "init container crash looping",
		pod: withInit(onNode(pod(corev1.PodPending, 1, corev1.ContainerStatus{Name: "a", State: waiting("PodInitializing")})),
			[]corev1.Container{{Name: "init-db"}},
			corev1.ContainerStatus{Name: "init-db", State: waiting("CrashLoopBackOff"), RestartCount: 3, LastTerminationState: lastExit(40 * time.Second)}),
		want: []interface{}{"web-7d9f", "0/1", "Init:CrashLoopBackOff", "3 (40s ago)", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "init container failed",
		pod: withInit(onNode(pod(corev1.PodPending, 1)),
			[]corev1.Container{{Name: "init-db"}},
			corev1.ContainerStatus{Name: "init-db", State: terminated("Error", 1)}),
		want: []interface{}{"web-7d9f", "0/1", "Init:Error", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "init container exited without a reason",
		pod: withInit(onNode(pod(corev1.PodPending, 1)),
			[]corev1.Container{{Name: "init-db"}},
			corev1.ContainerStatus{Name: "init-db", State: terminated("", 2)}),
		want: []interface{}{"web-7d9f", "0/1", "Init:ExitCode:2", "0", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "sidecar counts towards ready and restarts",
		pod: withInit(onNode(pod(corev1.PodRunning, 1, corev1.ContainerStatus{Name: "a", Ready: true, State: running})),
			[]corev1.Container{{Name: "proxy", RestartPolicy: &always}},
			corev1.ContainerStatus{Name: "proxy", Ready: true, Started: &started, State: running, RestartCount: 1, LastTerminationState: lastExit(90 * time.Second)}),
		want: []interface{}{"web-7d9f", "2/2", "Running", "1 (90s ago)", "3h", "10.42.0.5", "node-1", "<none>", "<none>"},
	}, {
		name: "wide columns: dual-stack IP, nominated node, readiness gates",
		pod: func() *corev1.Pod {
			p := withConditions(pod(corev1.PodPending, 1),
				corev1.PodCondition{Type: "example.com/lb-ready", Status: corev1.ConditionTrue},
				corev1.PodCondition{Type: "example.com/dns-ready", Status: corev1.ConditionFalse})
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.9"}, {IP: "fd00::9"}}
			p.Status.NominatedNodeName = "node-2"
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb-ready"}, {ConditionType: "example.com/dns-ready"}}
			return p
		}(),
		want: []interface{}{"web-7d9f", "0/1", "Pending", "0", "3h", "10.42.0.9", "<none>", "node-2", "1/2"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCells(t, printers.Pod(), tt.pod, tt.want)
		})
	}
}

func onNode(p *corev1.Pod) *corev1.Pod {
	p.Spec.NodeName = "node-1"
	p.Status.PodIP = "10.42.0.5"
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	ts := ago(10 * time.Second)
	p.DeletionTimestamp = &ts
	return p
}

func withReason(p *corev1.Pod, reason string) *corev1.Pod {
	p.Status.Reason = reason
	return p
}

func withConditions(p *corev1.Pod, conditions ...corev1.PodCondition) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, conditions...)
	return p
}

func withInit(p *corev1.Pod, containers []corev1.Container, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p.Spec.InitContainers = containers
	p.Status.InitContainerStatuses = statuses
	return p
}
