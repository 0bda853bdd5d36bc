package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func resources(cpuReq, memReq, cpuLim, memLim string) corev1.ResourceRequirements {
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		if len(l) == 0 {
			return nil
		}
		return l
	}
	return corev1.ResourceRequirements{Requests: list(cpuReq, memReq), Limits: list(cpuLim, memLim)}
}

func TestValidatePodResize(t *testing.T) {
	burstable := func(p *corev1.Pod) { p.Spec.Containers[0].Resources = resources("100m", "100Mi", "200m", "200Mi") }
	guaranteed := func(p *corev1.Pod) { p.Spec.Containers[0].Resources = resources("100m", "100Mi", "100m", "100Mi") }
	setResources := func(r corev1.ResourceRequirements) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Containers[0].Resources = r }
	}
	for _, tc := range []struct {
		name   string
		old    func(*corev1.Pod)
		mutate func(*corev1.Pod)
		want   []e
	}{
		{name: "requests and limits in opposite directions", old: burstable, mutate: setResources(resources("50m", "150Mi", "300m", "150Mi"))},
		{name: "limit added", old: setResources(resources("100m", "", "", "")), mutate: setResources(resources("200m", "", "300m", ""))},
		{name: "request added", old: setResources(resources("100m", "", "", "")), mutate: setResources(resources("100m", "100Mi", "", ""))},
		{name: "guaranteed stays guaranteed", old: guaranteed, mutate: setResources(resources("200m", "200Mi", "200m", "200Mi"))},
		{name: "best effort gets a request", mutate: setResources(resources("", "100Mi", "", "")),
			want: []e{invalid("spec", "Pod QOS Class may not change as a result of resizing")}},
		{name: "guaranteed to burstable", old: guaranteed, mutate: setResources(resources("100m", "100Mi", "200m", "100Mi")),
			want: []e{invalid("spec", "Pod QOS Class may not change as a result of resizing")}},
		{name: "limits removed", old: burstable, mutate: setResources(resources("100m", "100Mi", "", "")),
			want: []e{forbidden("spec.containers[0].resources.limits", "resource limits cannot be removed")}},
		{name: "request removed", old: setResources(resources("100m", "100Mi", "", "")), mutate: setResources(resources("100m", "", "", "")),
			want: []e{forbidden("spec.containers[0].resources.requests", "resource requests cannot be removed")}},
		{name: "ephemeral storage", old: burstable, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
		}, want: []e{forbidden("spec", "only cpu and memory resources are mutable")}},
		{name: "resize policy changed", old: burstable, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.RestartContainer}}
		}, want: []e{forbidden("spec", "only cpu and memory resources are mutable")}},
		{name: "image changed", old: burstable, mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:2" },
			want: []e{forbidden("spec", "only cpu and memory resources are mutable")}},
		{name: "container renamed", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Name = "other" },
			want: []e{forbidden("spec.containers[0].name", "containers may not be renamed or reordered on resize")}},
		{name: "container added", mutate: func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name = "second"
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, want: []e{forbidden("spec.containers", "containers may not be added or removed on resize")}},
		{name: "init container resized", old: func(p *corev1.Pod) {
			burstable(p)
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
			p.Spec.InitContainers[0].Name = "init"
		}, mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].Resources = resources("150m", "100Mi", "200m", "200Mi") }},
		{name: "init container with RestartContainer", old: func(p *corev1.Pod) {
			burstable(p)
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
			p.Spec.InitContainers[0].Name = "init"
			p.Spec.InitContainers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.RestartContainer}}
		}, mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].Resources = resources("150m", "100Mi", "200m", "200Mi") },
			want: []e{forbidden("spec.initContainers[0]", "non-sidecar init containers with a resize policy of RestartContainer cannot be resized")}},
		{name: "running on a node that does not report resources", old: func(p *corev1.Pod) {
			burstable(p)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}, mutate: setResources(resources("150m", "100Mi", "200m", "200Mi")),
			want: []e{forbidden("spec", "Pod running on node without support for resize")}},
		{name: "running on a node that reports resources", old: func(p *corev1.Pod) {
			burstable(p)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				Resources: &corev1.ResourceRequirements{}}}
		}, mutate: setResources(resources("150m", "100Mi", "200m", "200Mi"))},
		{name: "static pod", old: func(p *corev1.Pod) { burstable(p); p.Annotations = map[string]string{mirrorPodAnnotation: "x"} },
			mutate: setResources(resources("150m", "100Mi", "200m", "200Mi")), want: []e{forbidden("[]", "static pods cannot be resized")}},
		{name: "windows pod", old: func(p *corev1.Pod) { burstable(p); p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} },
			mutate: setResources(resources("150m", "100Mi", "200m", "200Mi")), want: []e{forbidden("[]", "windows pods cannot be resized")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := storedPod()
			if tc.old != nil {
				tc.old(old)
			}
			old.Status.QOSClass = PodQOSClass(&old.Spec)
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrs(t, ValidatePodResize(p, old), tc.want...)
		})
	}
}

func TestValidateResizePolicy(t *testing.T) {
	p := validPod()
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{
		{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired},
		{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired},
		{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer},
		{ResourceName: corev1.ResourceEphemeralStorage, RestartPolicy: "Sometimes"},
	}
	expectErrs(t, ValidatePod(p),
		duplicate("spec.containers[0].resizePolicy[1]"),
		invalid("spec.containers[0].resizePolicy", "must be 'NotRequired' when pod `restartPolicy` is 'Never'"),
		invalid("spec.containers[0].resizePolicy", "must be 'NotRequired' when pod `restartPolicy` is 'Never'"),
		notSupported("spec.containers[0].resizePolicy", "cpu"),
		notSupported("spec.containers[0].resizePolicy", "NotRequired"),
	)
}

// TestPodUpdateMayNotResize: resources change only through pods/resize.
func TestPodUpdateMayNotResize(t *testing.T) {
	old := storedPod()
	old.Spec.Containers[0].Resources = resources("100m", "", "", "")
	p := old.DeepCopy()
	p.Spec.Containers[0].Resources = resources("200m", "", "", "")
	expectErrs(t, ValidatePodUpdate(p, old), forbidden("spec", "pod updates may not change fields other than"))
}
