package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerHash identifies a container's spec but for its resources: when
// it changes (a new image), the running container is replaced; a change of
// resources is resized in place (resize.go).
func containerHash(c *corev1.Container) string {
	cc := *c
	cc.Resources, cc.ResizePolicy = corev1.ResourceRequirements{}, nil
	return fullHash(&cc)
}

// fullHash is the hash of everything in the spec, which agents before
// in-place resize recorded; a container carrying it is not replaced either.
func fullHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	h := fnv.New32a()
	h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// containerConfig builds the CRI configuration of one container.
func (a *Agent) containerConfig(ctx context.Context, refs *podRefs, pod *corev1.Pod, c *corev1.Container, imageRef string, restartCount int, init bool, podIPs []string, volumes map[string]string) (*runtimeapi.ContainerConfig, error) {
	env, err := a.containerEnv(ctx, refs, pod, c, podIPs)
	if err != nil {
		return nil, err
	}
	mounts, err := a.volumeMounts(pod, c, volumes, env)
	if err != nil {
		return nil, err
	}
	if !pod.Spec.HostNetwork && !hasMount(mounts, "/etc/hosts") {
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: a.hostsFile(pod)})
	}
	if c.TerminationMessagePath != "" && !hasMount(mounts, c.TerminationMessagePath) {
		p := a.terminationLog(pod, c.Name, restartCount)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return nil, err
		}
		_ = os.Chmod(p, 0o666)
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: p})
	}
	ports, _ := json.Marshal(c.Ports)
	grace := gracePeriodOf(pod)
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restartCount)},
		Image:      &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:    expandAll(c.Command, env),
		Args:       expandAll(c.Args, env),
		WorkingDir: c.WorkingDir,
		Envs:       env,
		Mounts:     mounts,
		Labels: map[string]string{
			labelPodName:      pod.Name,
			labelPodNamespace: pod.Namespace,
			labelPodUID:       string(pod.UID),
			labelContainer:    c.Name,
		},
		Annotations: map[string]string{
			annotationHash:              containerHash(c),
			annotationRestartCount:      strconv.Itoa(restartCount),
			annotationTerminationPath:   c.TerminationMessagePath,
			annotationTerminationPolicy: string(c.TerminationMessagePolicy),
			annotationPodGracePeriod:    strconv.FormatInt(grace, 10),
			annotationContainerPorts:    string(ports),
			annotationResources:         resourcesAnnotation(c),
		},
		LogPath:   filepath.Join(c.Name, strconv.Itoa(restartCount)+".log"),
		Stdin:     c.Stdin,
		StdinOnce: c.StdinOnce,
		Tty:       c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       a.linuxResources(pod, c),
			SecurityContext: containerSecurity(pod, c),
		},
	}
	if init {
		cfg.Annotations[annotationInitContainer] = "true"
	}
	return cfg, nil
}

func gracePeriodOf(pod *corev1.Pod) int64 {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

func hasMount(mounts []*runtimeapi.Mount, path string) bool {
	for _, m := range mounts {
		if filepath.Clean(m.ContainerPath) == filepath.Clean(path) {
			return true
		}
	}
	return false
}

// CPU and memory conversions, as upstream's kuberuntime.
const (
	minShares     = 2
	sharesPerCPU  = 1024
	milliCPUToCPU = 1000
	quotaPeriod   = 100000 // 100ms in µs
	minQuota      = 1000
)

func (a *Agent) linuxResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	req := c.Resources.Requests.Cpu().MilliValue()
	lim := c.Resources.Limits.Cpu().MilliValue()
	if req == 0 && lim != 0 {
		req = lim
	}
	r := &runtimeapi.LinuxContainerResources{CpuShares: max(req*sharesPerCPU/milliCPUToCPU, minShares)}
	if lim > 0 {
		r.CpuPeriod = quotaPeriod
		r.CpuQuota = max(lim*quotaPeriod/milliCPUToCPU, minQuota)
	}
	if m := c.Resources.Limits.Memory().Value(); m > 0 {
		r.MemoryLimitInBytes = m
	}
	r.OomScoreAdj = a.oomScoreAdj(pod, c)
	return r
}

// oomScoreAdj follows upstream's QoS policy. The runtime raises it to its own
// score where it cannot be lowered (restrict_oom_score_adj).
func (a *Agent) oomScoreAdj(pod *corev1.Pod, c *corev1.Container) int64 {
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		return -997
	case corev1.PodQOSBestEffort:
		return 1000
	}
	memTotal, err := memTotal()
	req := c.Resources.Requests.Memory().Value()
	if err != nil || memTotal == 0 {
		return 999
	}
	adj := 1000 - (1000*req)/memTotal
	return min(max(adj, 2), 999)
}

// qosClass is the pod's QoS class (the API server's, when it set one).
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	requests, limits, guaranteed := 0, 0, true
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq && !req.IsZero() {
				requests++
			}
			if hasLim && !lim.IsZero() {
				limits++
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case requests == 0 && limits == 0:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// podGroups are the supplemental groups of the pod's processes: the pod's
// own, and its fsGroup (which owns its volumes), as upstream's kubelet.
func podGroups(psc *corev1.PodSecurityContext) []int64 {
	groups := psc.SupplementalGroups
	if psc.FSGroup != nil && !slices.Contains(groups, *psc.FSGroup) {
		groups = append(slices.Clip(groups), *psc.FSGroup)
	}
	return groups
}

func containerSecurity(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
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
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: ns}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = podGroups(psc)
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.Privileged != nil {
			sc.Privileged = *csc.Privileged
		}
		if csc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		if csc.ReadOnlyRootFilesystem != nil {
			sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
		}
		if csc.AllowPrivilegeEscalation != nil {
			sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
		}
		if caps := csc.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, cp := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(cp))
			}
			for _, cp := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(cp))
			}
		}
	}
	return sc
}

// pullError is an image that could not be made available; reason is the
// container's waiting reason (ErrImagePull, ImagePullBackOff,
// ErrImageNeverPull).
type pullError struct {
	reason, msg string
}

func (e *pullError) Error() string { return e.msg }

// ensureImage makes c's image present according to its pull policy and
// returns the image's ID. A policy of Always pulls through the cluster
// registry mirror (Options.Mirror), which holds what `skiff image import` and
// pushes stored; when neither it nor the image's own registry answers, a copy
// already on the node is used with a warning (upstream would fail the pull),
// so a node keeps running its pods while the server is away.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (string, error) {
	local := func() string {
		resp, err := a.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: c.Image}})
		if err != nil || resp.Image == nil {
			return ""
		}
		return resp.Image.Id
	}
	present := local()
	policy := c.ImagePullPolicy
	switch {
	case policy == corev1.PullNever && present == "":
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		a.event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
		return "", &pullError{reason: "ErrImageNeverPull", msg: msg}
	case policy == corev1.PullNever, policy == corev1.PullIfNotPresent && present != "":
		a.event(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return present, nil
	}
	key := string(pod.UID) + "/" + c.Image
	if a.pullBackOff.IsInBackOffSinceUpdate(key, timeNow()) {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		a.event(pod, corev1.EventTypeNormal, "BackOff", "%s", msg)
		return "", &pullError{reason: "ImagePullBackOff", msg: msg}
	}
	a.event(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := timeNow()
	resp, err := a.runtime.PullImage(ctx, &runtimeapi.PullImageRequest{
		Image:         &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image},
		SandboxConfig: nil,
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if present != "" {
			a.event(pod, corev1.EventTypeWarning, "Pulled", "Failed to pull image %q, using the copy already on the node: %v", c.Image, grpcMessage(err))
			return present, nil
		}
		a.pullBackOff.Next(key, timeNow())
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, grpcMessage(err))
		a.event(pod, corev1.EventTypeWarning, "Failed", "%s", msg)
		return "", &pullError{reason: "ErrImagePull", msg: msg}
	}
	a.pullBackOff.Reset(key)
	a.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, timeNow().Sub(start).Round(1e6))
	if id := local(); id != "" {
		return id, nil
	}
	return resp.ImageRef, nil
}

func numCPU() int { return runtime.NumCPU() }
