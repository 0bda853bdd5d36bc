package agent

import (
	"context"
	"fmt"
	"maps"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxConfig is the pod's sandbox: shared network, IPC and UTS namespaces
// (the node's when the pod asks for the host's), the pod's hostname, DNS and
// host ports, under the pod's cgroup. It is a pure function of the pod, so
// CreateContainer gets the same one the sandbox was made with, also after an
// agent restart.
func (a *Agent) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelPodName] = pod.Name
	labels[labelPodNamespace] = pod.Namespace
	labels[labelPodUID] = string(pod.UID)
	annotations := maps.Clone(pod.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationSandboxCgroupParent] = a.podCgroup(string(pod.UID))

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		LogDirectory: a.podDir(pod),
		DnsConfig:    a.dnsConfig(pod),
		Labels:       labels,
		Annotations:  annotations,
	}
	if !pod.Spec.HostNetwork {
		cfg.Hostname, _ = a.podHostname(pod)
		cfg.PortMappings = portMappings(pod)
	}
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	sc := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: ns, Privileged: anyPrivileged(pod)}
	sysctls := map[string]string{}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = podGroups(psc)
		for _, s := range psc.Sysctls {
			sysctls[s.Name] = s.Value
		}
	}
	cfg.Linux = &runtimeapi.LinuxPodSandboxConfig{CgroupParent: a.podCgroup(string(pod.UID)), SecurityContext: sc, Sysctls: sysctls}
	return cfg
}

func anyPrivileged(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				return true
			}
		}
	}
	return false
}

func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case corev1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			out = append(out, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	return out
}

// runSandbox creates and starts the pod's sandbox and returns its ID.
func (a *Agent) runSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (string, error) {
	if err := os.MkdirAll(a.podDir(pod), 0o755); err != nil {
		return "", err
	}
	handler, err := a.runtimeHandler(ctx, pod)
	if err != nil {
		return "", err
	}
	resp, err := a.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: a.sandboxConfig(pod, attempt), RuntimeHandler: handler})
	if err != nil {
		return "", err
	}
	return resp.PodSandboxId, nil
}

// runtimeHandler is the CRI runtime handler of the pod's RuntimeClass ("" for
// the runtime's default, when the pod names none).
func (a *Agent) runtimeHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	name := pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		return "", nil
	}
	rc, err := a.client.NodeV1().RuntimeClasses().Get(ctx, *name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("looking up RuntimeClass %q: %w", *name, err)
	}
	return rc.Handler, nil
}

// sandboxIPs returns the pod's IPs from the sandbox (the node's for a pod on
// the host network).
func (a *Agent) sandboxIPs(ctx context.Context, pod *corev1.Pod, id string) ([]string, error) {
	if pod.Spec.HostNetwork {
		return []string{a.opts.NodeIP}, nil
	}
	resp, err := a.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return nil, err
	}
	n := resp.GetStatus().GetNetwork()
	if n == nil || n.Ip == "" {
		return nil, fmt.Errorf("sandbox %s has no IP", id)
	}
	ips := []string{n.Ip}
	for _, extra := range n.AdditionalIps {
		ips = append(ips, extra.Ip)
	}
	return ips, nil
}

func gracePeriod(pod *corev1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return max(*pod.DeletionGracePeriodSeconds, 0)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return max(*pod.Spec.TerminationGracePeriodSeconds, 0)
	}
	return 30
}
