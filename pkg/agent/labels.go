package agent

// Labels and annotations the agent puts on sandboxes and containers. They are
// the kubelet's, so that crictl and other tools show the same things, and they
// are the agent's only memory across restarts.
const (
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelPodUID       = "io.kubernetes.pod.uid"
	labelContainer    = "io.kubernetes.container.name"

	annotationHash                = "io.kubernetes.container.hash"
	annotationRestartCount        = "io.kubernetes.container.restartCount"
	annotationTerminationPath     = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationPolicy   = "io.kubernetes.container.terminationMessagePolicy"
	annotationPodGracePeriod      = "io.kubernetes.pod.terminationGracePeriod"
	annotationContainerPorts      = "io.kubernetes.container.ports"
	annotationInitContainer       = "skiff.io/init-container"
	annotationSandboxCgroupParent = "skiff.io/cgroup-parent"
)
