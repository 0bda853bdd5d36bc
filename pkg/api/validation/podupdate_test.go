package validation

import (
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func storedPod() *corev1.Pod {
	p := validPod()
	p.Spec.Containers[0].Command = []string{"sleep", "10"}
	p.ObjectMeta = stored(p.ObjectMeta)
	return p
}

func TestValidatePodUpdate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		old    func(*corev1.Pod)
		want   []e
	}{
		{name: "nothing changed", mutate: func(*corev1.Pod) {}},
		{name: "image, labels and annotations", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Image = "nginx:1.28"
			p.Labels["tier"] = "front"
			p.Annotations = map[string]string{"note": "x"}
		}},
		{name: "init container image", old: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}
		}, mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "busybox:2" }},
		{name: "image removed", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			want: []e{required("spec.containers[0].image"), required("spec.containers[0].image")}},
		{name: "container added", mutate: func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name = "second"
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, want: []e{forbidden("spec.containers", "pod updates may not add or remove containers")}},
		{name: "command changed", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sleep", "20"} },
			want: []e{forbidden("spec", "pod updates may not change fields other than")}},
		{name: "restart policy changed", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []e{forbidden("spec", "pod updates may not change fields other than")}},
		{name: "toleration added", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}},
		{name: "tolerationSeconds changed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr.To(int64(10)) }},
		{name: "toleration removed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[1:] },
			want: []e{forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")}},
		{name: "active deadline set then shortened", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(100)) },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(50)) }},
		{name: "active deadline lengthened", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(100)) },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(200)) },
			want:   []e{invalid("spec.activeDeadlineSeconds", "must be less than or equal to previous value")}},
		{name: "active deadline unset", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(100)) },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			want:   []e{invalid("spec.activeDeadlineSeconds", "must not update from a positive integer to nil value")}},
		{name: "negative grace period raised to 1", old: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To(int64(-1)) },
			mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To(int64(1)) }},
		{name: "grace period changed", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To(int64(1)) },
			want: []e{forbidden("spec", "pod updates may not change fields other than")}},
		{name: "scheduling gate removed", old: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/a"}, {Name: "example.com/b"}}
		}, mutate: func(p *corev1.Pod) { p.Spec.SchedulingGates = p.Spec.SchedulingGates[1:] }},
		{name: "scheduling gate added", old: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/a"}}
		}, mutate: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/b"})
		}, want: []e{forbidden("spec.schedulingGates[1]", "only deletion is allowed, but found new scheduling gate 'example.com/b'")}},
		{name: "renamed", mutate: func(p *corev1.Pod) { p.Name = "other" },
			want: []e{invalid("metadata.name", "field is immutable")}},
		{name: "no resourceVersion", mutate: func(p *corev1.Pod) { p.ResourceVersion = "" },
			want: []e{invalid("metadata.resourceVersion", "must be specified for an update")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := storedPod()
			if tc.old != nil {
				tc.old(old)
			}
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrs(t, ValidatePodUpdate(p, old), tc.want...)
		})
	}
}

// TestValidatePodUpdateMessage: what `kubectl apply` prints when a pod's
// command is edited in place.
func TestValidatePodUpdateMessage(t *testing.T) {
	old := storedPod()
	p := old.DeepCopy()
	p.Spec.Containers[0].Command = []string{"sleep", "20"}
	errs := ValidatePodUpdate(p, old)
	if len(errs) != 1 {
		t.Fatalf("got %v, want one error", errs)
	}
	const head = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
	msg := errs[0].Error()
	if !strings.HasPrefix(msg, head) {
		t.Fatalf("message starts %q, want %q", msg[:min(len(msg), len(head))], head)
	}
	diff := msg[len(head):]
	if !regexp.MustCompile(`(?m)^-\s+"10"\n\+\s+"20"$`).MatchString(diff) {
		t.Errorf("diff does not show the change:\n%s", diff)
	}
	if strings.Contains(diff, "restartPolicy") {
		t.Errorf("diff shows unchanged fields far from the change:\n%s", diff)
	}
}

func TestValidatePodStatusUpdate(t *testing.T) {
	terminated := corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	failed := corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	running := corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	for _, tc := range []struct {
		name     string
		policy   corev1.RestartPolicy
		old, new []corev1.ContainerStatus
		mutate   func(*corev1.Pod)
		want     []e
	}{
		{name: "restart after success under Always", policy: corev1.RestartPolicyAlways, old: []corev1.ContainerStatus{terminated}, new: []corev1.ContainerStatus{running}},
		{name: "restart after failure under OnFailure", policy: corev1.RestartPolicyOnFailure, old: []corev1.ContainerStatus{failed}, new: []corev1.ContainerStatus{running}},
		{name: "restart after success under OnFailure", policy: corev1.RestartPolicyOnFailure, old: []corev1.ContainerStatus{terminated}, new: []corev1.ContainerStatus{running},
			want: []e{forbidden("status.containerStatuses[0].state", "may not be transitioned to non-terminated state")}},
		{name: "restart under Never", policy: corev1.RestartPolicyNever, old: []corev1.ContainerStatus{failed}, new: []corev1.ContainerStatus{running},
			want: []e{forbidden("status.containerStatuses[0].state", "may not be transitioned to non-terminated state")}},
		{name: "conditions and IPs", policy: corev1.RestartPolicyAlways, mutate: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}, {Type: "example.com/Custom"}, {Type: "not qualified!"}}
			p.Status.PodIP = "10.0.0.1"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}}
			p.Status.HostIP = "192.0.2.1"
		}, want: []e{invalid("status.conditions[2].type", "")}},
		{name: "node name", policy: corev1.RestartPolicyAlways, mutate: func(p *corev1.Pod) { p.Spec.NodeName = "node-2" },
			want: []e{forbidden("status.nodeName", "may not be changed directly")}},
		{name: "nominated node name", policy: corev1.RestartPolicyAlways, mutate: func(p *corev1.Pod) { p.Status.NominatedNodeName = "Node_2" },
			want: []e{invalid("status.nominatedNodeName", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := storedPod()
			old.Spec.RestartPolicy = tc.policy
			old.Status.ContainerStatuses = tc.old
			p := old.DeepCopy()
			p.Status.ContainerStatuses = tc.new
			if tc.mutate != nil {
				tc.mutate(p)
			}
			expectErrs(t, ValidatePodStatusUpdate(p, old), tc.want...)
		})
	}

	// A sidecar init container restarts whatever the pod's policy.
	old := storedPod()
	old.Spec.RestartPolicy = corev1.RestartPolicyNever
	old.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}, {Name: "setup"}}
	old.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "proxy", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
		{Name: "setup", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}
	p := old.DeepCopy()
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "setup", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
	}
	expectErrs(t, ValidatePodStatusUpdate(p, old), forbidden("status.initContainerStatuses[1].state", "may not be transitioned to non-terminated state"))
}

func TestValidateBinding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target corev1.ObjectReference
		want   []e
	}{
		{name: "node", target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}},
		{name: "kind left out", target: corev1.ObjectReference{Name: "node-1"}},
		{name: "no name", target: corev1.ObjectReference{Kind: "Node"}, want: []e{required("target.name")}},
		{name: "not a node", target: corev1.ObjectReference{Kind: "Pod", Name: "x"}, want: []e{notSupported("target.kind", `"Node", "<empty>"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectErrs(t, ValidateBinding(&corev1.Binding{Target: tc.target}), tc.want...)
		})
	}
}
