package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// debugContainer is what kubectl debug --target=web adds, defaulted.
func debugContainer(name string) corev1.EphemeralContainer {
	p := &corev1.Pod{Spec: corev1.PodSpec{EphemeralContainers: []corev1.EphemeralContainer{{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox", Stdin: true, TTY: true},
		TargetContainerName:      "web",
	}}}}
	defaults.Pod(p, defaults.PodOptions{})
	return p.Spec.EphemeralContainers[0]
}

func TestValidatePodEphemeralContainersUpdate(t *testing.T) {
	withDebugger := func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugContainer("debugger"))
	}
	for _, tc := range []struct {
		name   string
		old    func(*corev1.Pod)
		mutate func(*corev1.Pod)
		want   []e
	}{
		{name: "one added", mutate: withDebugger},
		{name: "second added", old: withDebugger, mutate: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugContainer("debugger2"))
		}},
		{name: "removed", old: withDebugger, mutate: func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil },
			want: []e{forbidden("spec.ephemeralContainers", `existing ephemeral containers "debugger" may not be removed`)}},
		{name: "changed", old: withDebugger, mutate: func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "busybox:2" },
			want: []e{forbidden("spec.ephemeralContainers", `existing ephemeral containers "debugger" may not be changed`)}},
		{name: "reordered", old: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("a"), debugContainer("b")}
		}, mutate: func(p *corev1.Pod) {
			ec := p.Spec.EphemeralContainers
			ec[0], ec[1] = ec[1], ec[0]
		}},
		{name: "name of a container", mutate: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("web")}
		}, want: []e{duplicate("spec.ephemeralContainers[0].name")}},
		{name: "name of an init container", old: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}
		}, mutate: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("init")}
		}, want: []e{duplicate("spec.ephemeralContainers[0].name")}},
		{name: "two of one name", mutate: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("d"), debugContainer("d")}
		}, want: []e{duplicate("spec.ephemeralContainers[1].name")}},
		{name: "unknown target", mutate: func(p *corev1.Pod) {
			ec := debugContainer("debugger")
			ec.TargetContainerName = "nope"
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, want: []e{notFound("spec.ephemeralContainers[0].targetContainerName")}},
		{name: "ports, probes, lifecycle, resources", mutate: func(p *corev1.Pod) {
			ec := debugContainer("debugger")
			ec.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
			ec.ReadinessProbe = p.Spec.Containers[0].ReadinessProbe
			ec.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
			ec.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			ec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, want: []e{
			forbidden("spec.ephemeralContainers[0].ports", "cannot be set for an Ephemeral Container"),
			forbidden("spec.ephemeralContainers[0].livenessProbe", "cannot be set for an Ephemeral Container"),
			forbidden("spec.ephemeralContainers[0].lifecycle", "cannot be set for an Ephemeral Container"),
			forbidden("spec.ephemeralContainers[0].resources", "cannot be set for an Ephemeral Container"),
		}},
		{name: "subPath", old: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, mutate: func(p *corev1.Pod) {
			ec := debugContainer("debugger")
			ec.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "x"}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, want: []e{forbidden("spec.ephemeralContainers[0].volumeMounts[0].subPath", "cannot be set for an Ephemeral Container")}},
		{name: "invalid container", mutate: func(p *corev1.Pod) {
			ec := debugContainer("Debugger")
			ec.Image = ""
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, want: []e{invalid("spec.ephemeralContainers[0].name", ""), required("spec.ephemeralContainers[0].image")}},
		{name: "static pod", old: func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "x"} },
			mutate: withDebugger, want: []e{forbidden("[]", "static pods do not support ephemeral containers")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := storedPod()
			if tc.old != nil {
				tc.old(old)
			}
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrs(t, ValidatePodEphemeralContainersUpdate(p, old), tc.want...)
		})
	}
}

// TestPodUpdateKeepsEphemeralContainers: only pods/ephemeralcontainers adds them.
func TestPodUpdateKeepsEphemeralContainers(t *testing.T) {
	old := storedPod()
	p := old.DeepCopy()
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("debugger")}
	expectErrs(t, ValidatePodUpdate(p, old), forbidden("spec", "pod updates may not change fields other than"))
}
