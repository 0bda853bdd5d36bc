package defaults

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// DefaultTolerationSeconds is how long, by default, a pod stays bound to a node
// that became not-ready or unreachable (the DefaultTolerationSeconds admission
// plugin's default for both taints).
const DefaultTolerationSeconds int64 = 300

// DefaultServiceAccountName is the service account a pod runs as when it names none.
const DefaultServiceAccountName = "default"

// PodOptions are the DefaultTolerationSeconds admission parameters
// (--default-not-ready-toleration-seconds, --default-unreachable-toleration-seconds).
// Zero means DefaultTolerationSeconds.
type PodOptions struct {
	NotReadyTolerationSeconds    int64
	UnreachableTolerationSeconds int64
}

// Pod defaults a pod the way a default kube-apiserver does on create: the spec
// defaults shared with pod templates (PodSpec), the pod-only ones (requests from
// limits, enableServiceLinks, host ports on the host network), and the mutations
// of the ServiceAccount and DefaultTolerationSeconds admission plugins.
//
// The priority is left alone: it comes from the PriorityClass objects (a
// globalDefault one too), which is the API server's business (pod admission).
func Pod(p *corev1.Pod, o PodOptions) {
	spec := &p.Spec
	requestsFromLimits(spec.Containers)
	requestsFromLimits(spec.InitContainers)
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	if spec.HostNetwork {
		hostPortsFromContainerPorts(spec.Containers)
		hostPortsFromContainerPorts(spec.InitContainers)
	}
	PodSpec(spec)
	defaultTolerations(spec, o)
}

// PodSpec applies the defaults upstream gives every pod spec, including the
// one inside a pod template: restart and DNS policy, scheduler, grace period,
// security context, and the per-container and per-volume defaults.
func PodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptr.To(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	// The v1 API keeps the deprecated serviceAccount field as a mirror of
	// serviceAccountName; an old client may have set only the former.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName

	for i := range spec.Volumes {
		volume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		container(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		container(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		container(&c)
		spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	roundUp(spec.Overhead)
	if spec.Resources != nil {
		roundUp(spec.Resources.Limits)
		roundUp(spec.Resources.Requests)
	}
}

// requestsFromLimits copies each limit into requests where no request is set.
// Upstream does this for pods only: a template keeps what its author wrote.
func requestsFromLimits(containers []corev1.Container) {
	for i := range containers {
		r := &containers[i].Resources
		if r.Limits == nil {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		for name, limit := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				r.Requests[name] = limit.DeepCopy()
			}
		}
	}
}

// hostPortsFromContainerPorts: on the host network a container port is a host port.
func hostPortsFromContainerPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			if p := &containers[i].Ports[j]; p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

// defaultTolerations is the DefaultTolerationSeconds admission plugin: unless the
// pod already tolerates them, tolerate the NoExecute taints the node lifecycle
// controller puts on not-ready and unreachable nodes, for a bounded time.
func defaultTolerations(spec *corev1.PodSpec, o PodOptions) {
	notReady, unreachable := false, false
	for _, t := range spec.Tolerations {
		noExecute := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		if noExecute && (t.Key == corev1.TaintNodeNotReady || t.Key == "") {
			notReady = true
		}
		if noExecute && (t.Key == corev1.TaintNodeUnreachable || t.Key == "") {
			unreachable = true
		}
	}
	if !notReady {
		spec.Tolerations = append(spec.Tolerations, toleration(corev1.TaintNodeNotReady, o.NotReadyTolerationSeconds))
	}
	if !unreachable {
		spec.Tolerations = append(spec.Tolerations, toleration(corev1.TaintNodeUnreachable, o.UnreachableTolerationSeconds))
	}
}

func toleration(key string, seconds int64) corev1.Toleration {
	if seconds == 0 {
		seconds = DefaultTolerationSeconds
	}
	return corev1.Toleration{
		Key:               key,
		Operator:          corev1.TolerationOpExists,
		Effect:            corev1.TaintEffectNoExecute,
		TolerationSeconds: ptr.To(seconds),
	}
}
