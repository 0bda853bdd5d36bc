package agent

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// register creates the Node, or brings an existing one's labels, taints
// (added only) and status up to date.
func (a *Agent) register(ctx context.Context) (*corev1.Node, error) {
	nodes := a.client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		status, err := a.nodeStatus(ctx, nil)
		if err != nil {
			return nil, err
		}
		node, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node = &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: a.nodeLabels(nil)},
				Spec:       corev1.NodeSpec{Taints: a.opts.Taints},
			}
			if a.opts.PodCIDR != "" {
				// A fixed pod CIDR is the node's, as --pod-cidr makes it upstream.
				node.Spec.PodCIDR, node.Spec.PodCIDRs = a.opts.PodCIDR, []string{a.opts.PodCIDR}
			}
			created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) && attempt < 3 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("registering node %q: %w", a.opts.NodeName, err)
			}
			node = created
		} else if err != nil {
			return nil, fmt.Errorf("registering node %q: %w", a.opts.NodeName, err)
		} else {
			labels := a.nodeLabels(node.Labels)
			taints := mergeTaints(node.Spec.Taints, a.opts.Taints)
			if !maps.Equal(labels, node.Labels) || len(taints) != len(node.Spec.Taints) {
				node = node.DeepCopy()
				node.Labels, node.Spec.Taints = labels, taints
				updated, err := nodes.Update(ctx, node, metav1.UpdateOptions{})
				if apierrors.IsConflict(err) && attempt < 3 {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("updating node %q: %w", a.opts.NodeName, err)
				}
				node = updated
			}
		}
		status, _ = a.nodeStatus(ctx, &node.Status)
		node = node.DeepCopy()
		node.Status = *status
		updated, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("posting the status of node %q: %w", a.opts.NodeName, err)
		}
		a.log.Info("node registered", "ip", a.opts.NodeIP)
		return updated, nil
	}
}

func (a *Agent) nodeLabels(existing map[string]string) map[string]string {
	labels := maps.Clone(existing)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		corev1.LabelHostname:           a.opts.NodeName,
		corev1.LabelOSStable:           "linux",
		corev1.LabelArchStable:         runtime.GOARCH,
		"beta.kubernetes.io/os":        "linux",
		"beta.kubernetes.io/arch":      runtime.GOARCH,
		corev1.LabelInstanceTypeStable: "skiff",
	})
	maps.Copy(labels, a.opts.Labels)
	return labels
}

func mergeTaints(have, want []corev1.Taint) []corev1.Taint {
	out := append([]corev1.Taint(nil), have...)
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || (h.Key == w.Key && h.Effect == w.Effect)
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// nodeStatus computes the node's status. Conditions keep their transition
// times from old when their status did not change.
func (a *Agent) nodeStatus(ctx context.Context, old *corev1.NodeStatus) (*corev1.NodeStatus, error) {
	mem, err := memTotal()
	if err != nil {
		return nil, err
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(a.opts.MaxPods), resource.DecimalSI),
	}
	var fs unix.Statfs_t
	if unix.Statfs(a.opts.DataDir, &fs) == nil || unix.Statfs("/", &fs) == nil {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
	}
	hostname, _ := os.Hostname()
	allocatable := capacity.DeepCopy()
	if old != nil {
		// Extended resources (example.com/foo) others advertise for this
		// node stay, as a kubelet keeps what it does not manage.
		keepExtended(capacity, old.Capacity)
		keepExtended(allocatable, old.Allocatable)
	}
	st := &corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Phase:       "",
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.opts.NodeIP},
			{Type: corev1.NodeHostName, Address: orDefault(strings.ToLower(hostname), a.opts.NodeName)},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               readTrim("/etc/machine-id"),
			SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           kernelVersion(),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: a.runtimeName + "://" + a.runtimeVer,
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
		},
	}
	if ctx != nil && a.runtime != nil {
		st.Images = a.nodeImages(ctx)
	}
	now := metav1.Now()
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	if msg := a.runtimeProblem(ctx); msg != "" {
		ready = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: msg}
	}
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		ready,
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = now
		conds[i].LastTransitionTime = now
		if old != nil {
			for _, o := range old.Conditions {
				if o.Type == conds[i].Type && o.Status == conds[i].Status && !o.LastTransitionTime.IsZero() {
					conds[i].LastTransitionTime = o.LastTransitionTime
				}
			}
		}
	}
	st.Conditions = conds
	if old != nil {
		st.VolumesInUse, st.VolumesAttached, st.Config = old.VolumesInUse, old.VolumesAttached, old.Config
	}
	return st, nil
}

// keepExtended copies into l the extended resources of old it lacks: names
// with a domain outside kubernetes.io, as upstream defines them.
func keepExtended(l, old corev1.ResourceList) {
	for name, q := range old {
		domain, _, found := strings.Cut(string(name), "/")
		if _, ok := l[name]; !ok && found && !strings.Contains(domain, "kubernetes.io") {
			l[name] = q
		}
	}
}

// runtimeProblem says why the runtime is not ready ("" when it is).
func (a *Agent) runtimeProblem(ctx context.Context) string {
	if ctx == nil || a.runtime == nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := a.runtime.Status(cctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return "container runtime is down: " + err.Error()
	}
	for _, c := range st.GetStatus().GetConditions() {
		if !c.Status {
			if c.Type == runtimeapi.NetworkReady {
				return fmt.Sprintf("container runtime network not ready: %s: %s: %s", c.Type, c.Reason, c.Message)
			}
			return fmt.Sprintf("container runtime status check may not have completed yet: %s: %s: %s", c.Type, c.Reason, c.Message)
		}
	}
	return ""
}

// nodeImages lists up to 50 images, largest first, as upstream reports them.
func (a *Agent) nodeImages(ctx context.Context) []corev1.ContainerImage {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := a.runtime.ListImages(cctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil
	}
	var out []corev1.ContainerImage
	for _, img := range resp.Images {
		names := append(append([]string(nil), img.RepoDigests...), img.RepoTags...)
		if len(names) == 0 {
			continue
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: int64(img.Size)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SizeBytes != out[j].SizeBytes {
			return out[i].SizeBytes > out[j].SizeBytes
		}
		return out[i].Names[0] < out[j].Names[0]
	})
	if len(out) > 50 {
		out = out[:50]
	}
	return out
}

// postNodeStatus re-posts the node status when it changed or force is set.
func (a *Agent) postNodeStatus(ctx context.Context, force bool) error {
	nodes := a.client.CoreV1().Nodes()
	for attempt := 0; attempt < 3; attempt++ {
		node, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Deleted under us: register again, as a kubelet does.
			n, err := a.register(ctx)
			if err == nil {
				a.nodeUID.Store(n.UID)
			}
			return err
		}
		if err != nil {
			return err
		}
		st, err := a.nodeStatus(ctx, &node.Status)
		if err != nil {
			return err
		}
		if !force && statusEquivalent(&node.Status, st) {
			return nil
		}
		node = node.DeepCopy()
		node.Status = *st
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// statusEquivalent compares node statuses ignoring heartbeat times.
func statusEquivalent(a, b *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		s = s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
			s.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		return s
	}
	x, y := strip(a), strip(b)
	return reflect.DeepEqual(x.Conditions, y.Conditions) && reflect.DeepEqual(x.Addresses, y.Addresses) &&
		reflect.DeepEqual(x.NodeInfo, y.NodeInfo) && x.Capacity.Cpu().Equal(*y.Capacity.Cpu()) &&
		x.Capacity.Memory().Equal(*y.Capacity.Memory()) && reflect.DeepEqual(x.Images, y.Images) &&
		len(x.Capacity) == len(y.Capacity) && len(x.Allocatable) == len(y.Allocatable)
}

// heartbeat renews the Lease every HeartbeatInterval and re-posts the node
// status when it changed, or every StatusInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	lease := time.NewTicker(a.opts.HeartbeatInterval)
	defer lease.Stop()
	lastPost := time.Now()
	if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("renewing the node lease", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
		}
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("renewing the node lease", "err", err)
		}
		force := time.Since(lastPost) >= a.opts.StatusInterval
		if err := a.postNodeStatus(ctx, force); err != nil {
			if ctx.Err() == nil {
				a.log.Error("posting node status", "err", err)
			}
		} else if force {
			lastPost = time.Now()
		}
	}
}

func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("node memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("node memory: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("node memory: no MemTotal in /proc/meminfo")
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// osImage is PRETTY_NAME from /etc/os-release.
func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
