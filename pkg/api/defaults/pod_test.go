package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// defaultedContainer is what a container with only a name and image becomes.
func defaultedContainer(name, image string, policy corev1.PullPolicy) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    image,
		ImagePullPolicy:          policy,
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

func defaultTolerationsFor(notReady, unreachable int64) []corev1.Toleration {
	return []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(notReady)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(unreachable)},
	}
}

// TestPodMinimal is `kubectl run web --image=nginx`: the pod a user reads
// back, but for what ServiceAccount admission adds (the account and its
// token volume).
func TestPodMinimal(t *testing.T) {
	got := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	Pod(got, PodOptions{})
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{defaultedContainer("web", "nginx", corev1.PullAlways)},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To(int64(30)),
			DNSPolicy:                     corev1.DNSClusterFirst,
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 "default-scheduler",
			Tolerations:                   defaultTolerationsFor(300, 300),
			EnableServiceLinks:            ptr.To(true),
		},
	}
	mustEqual(t, want, got)

	again := got.DeepCopy()
	Pod(again, PodOptions{})
	mustEqual(t, got, again)
}

func TestPodKeepsWhatIsSet(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers:                    []corev1.Container{{Name: "c", Image: "busybox", ImagePullPolicy: corev1.PullNever, TerminationMessagePath: "/tmp/x", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError}},
		RestartPolicy:                 corev1.RestartPolicyNever,
		DNSPolicy:                     corev1.DNSDefault,
		TerminationGracePeriodSeconds: ptr.To(int64(5)),
		SchedulerName:                 "mine",
		ServiceAccountName:            "robot",
		SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(1000))},
		EnableServiceLinks:            ptr.To(false),
		Priority:                      ptr.To(int32(7)),
		PreemptionPolicy:              ptr.To(corev1.PreemptNever),
	}}
	want := p.DeepCopy()
	want.Spec.DeprecatedServiceAccount = "robot"
	want.Spec.Tolerations = defaultTolerationsFor(300, 300)
	Pod(p, PodOptions{})
	mustEqual(t, want, p)
}

func TestPodDeprecatedServiceAccount(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{DeprecatedServiceAccount: "old-client"}}
	Pod(p, PodOptions{})
	if p.Spec.ServiceAccountName != "old-client" || p.Spec.DeprecatedServiceAccount != "old-client" {
		t.Errorf("serviceAccountName=%q serviceAccount=%q, want both %q", p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount, "old-client")
	}
}

// TestPodPriority: priority needs the PriorityClass objects, even for no
// class (there may be a globalDefault one), so defaulting leaves it to
// admission.
func TestPodPriority(t *testing.T) {
	for _, class := range []string{"", "system-cluster-critical", "high"} {
		p := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: class}}
		Pod(p, PodOptions{})
		if p.Spec.Priority != nil || p.Spec.PreemptionPolicy != nil {
			t.Errorf("class %q: defaulted priority %v, policy %v", class, p.Spec.Priority, p.Spec.PreemptionPolicy)
		}
	}
}

func TestPodTolerations(t *testing.T) {
	notReady := corev1.Toleration{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(10))}
	unreachable := corev1.Toleration{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(20))}
	other := corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name string
		in   []corev1.Toleration
		opts PodOptions
		want []corev1.Toleration
	}{
		{"none", nil, PodOptions{}, defaultTolerationsFor(300, 300)},
		{"parameters", nil, PodOptions{NotReadyTolerationSeconds: 10, UnreachableTolerationSeconds: 20}, []corev1.Toleration{notReady, unreachable}},
		{"unrelated kept first", []corev1.Toleration{other}, PodOptions{}, append([]corev1.Toleration{other}, defaultTolerationsFor(300, 300)...)},
		{"not-ready present", []corev1.Toleration{notReady}, PodOptions{}, []corev1.Toleration{notReady, defaultTolerationsFor(300, 300)[1]}},
		{"both present", []corev1.Toleration{unreachable, notReady}, PodOptions{}, []corev1.Toleration{unreachable, notReady}},
		{"tolerate everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, PodOptions{}, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{"all NoExecute taints", []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, PodOptions{}, []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}},
		{"NoSchedule not-ready is not enough", []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, PodOptions{},
			append([]corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, defaultTolerationsFor(300, 300)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.in}}
			Pod(p, tc.opts)
			mustEqual(t, tc.want, p.Spec.Tolerations)
		})
	}
}

func TestImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                          corev1.PullAlways,
		"nginx:latest":                   corev1.PullAlways,
		"nginx:1.27":                     corev1.PullIfNotPresent,
		"docker.io/library/nginx":        corev1.PullAlways,
		"registry.local:5000/team/app":   corev1.PullAlways,
		"registry.local:5000/team/app:v": corev1.PullIfNotPresent,
		"localhost/app:latest":           corev1.PullAlways,
		"nginx@sha256:" + hex64:          corev1.PullIfNotPresent,
		"nginx:1.27@sha256:" + hex64:     corev1.PullIfNotPresent,
		"nginx:latest@sha256:" + hex64:   corev1.PullAlways,
		"":                               corev1.PullIfNotPresent,
		"NGINX":                          corev1.PullIfNotPresent,
		"Team/app":                       corev1.PullIfNotPresent,
		"nginx:":                         corev1.PullIfNotPresent,
		hex64:                            corev1.PullIfNotPresent,
	} {
		if got := pullPolicy(image); got != want {
			t.Errorf("pullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestContainerDefaults(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "app:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
			Env: []corev1.EnvVar{
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "PLAIN", Value: "x"},
			},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			},
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, PeriodSeconds: 3},
			StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}, FailureThreshold: 30},
			Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/quit", Port: intstr.FromString("http")}}},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}},
	}}
	Pod(p, PodOptions{})

	mustEqual(t, defaultedContainer("init", "busybox:1.36", corev1.PullIfNotPresent), p.Spec.InitContainers[0])
	mustEqual(t, corev1.EphemeralContainerCommon(defaultedContainer("debug", "busybox", corev1.PullAlways)), p.Spec.EphemeralContainers[0].EphemeralContainerCommon)

	c := p.Spec.Containers[0]
	mustEqual(t, []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}, c.Ports)
	mustEqual(t, &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}, c.Env[0].ValueFrom)
	mustEqual(t, corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}, c.Resources)
	mustEqual(t, &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
	}, c.LivenessProbe)
	mustEqual(t, &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: ptr.To("")}},
		TimeoutSeconds: 1, PeriodSeconds: 3, SuccessThreshold: 1, FailureThreshold: 3,
	}, c.ReadinessProbe)
	mustEqual(t, &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 30,
	}, c.StartupProbe)
	mustEqual(t, &corev1.HTTPGetAction{Path: "/quit", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}, c.Lifecycle.PreStop.HTTPGet)
}

func TestResourceRounding(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.0001")}},
	}}}}
	Pod(p, PodOptions{})
	r := p.Spec.Containers[0].Resources
	if got := r.Limits.Cpu().String(); got != "1m" {
		t.Errorf("limit rounded to %s, want 1m", got)
	}
	if got := r.Requests.Cpu().String(); got != "1m" {
		t.Errorf("request rounded to %s, want 1m", got)
	}
}

func TestPodHostNetworkPorts(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090, HostPort: 9090}},
	}}}}
	Pod(p, PodOptions{})
	mustEqual(t, []corev1.ContainerPort{
		{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP},
		{ContainerPort: 9090, HostPort: 9090, Protocol: corev1.ProtocolTCP},
	}, p.Spec.Containers[0].Ports)
}

func TestVolumes(t *testing.T) {
	spec := &corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "scratch"},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, DefaultMode: ptr.To(int32(0o600))}}},
		{Name: "downward", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		{Name: "projected", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
		{Name: "claim", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{}}}},
		{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{}}},
		{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{}}},
		{Name: "azure", VolumeSource: corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{}}},
		{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{}}},
	}}
	PodSpec(spec)
	mode := ptr.To(int32(420))
	want := []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: ptr.To(corev1.HostPathUnset)}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: mode}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, DefaultMode: ptr.To(int32(0o600))}}},
		{Name: "downward", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{DefaultMode: mode, Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}}}}}},
		{Name: "projected", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(int64(3600))}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}},
		{Name: "claim", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem)}}}}},
		{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDPool: "rbd", RadosUser: "admin", Keyring: "/etc/ceph/keyring"}}},
		{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{ISCSIInterface: "default"}}},
		{Name: "azure", VolumeSource: corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{CachingMode: ptr.To(corev1.AzureDataDiskCachingReadWrite), FSType: ptr.To("ext4"), ReadOnly: ptr.To(false), Kind: ptr.To(corev1.AzureSharedBlobDisk)}}},
		{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{StorageMode: "ThinProvisioned", FSType: "xfs"}}},
	}
	mustEqual(t, want, spec.Volumes)
}

// TestPodSpecIsNotPod: a template gets the spec defaults only.
func TestPodSpecIsNotPod(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
	}}}}
	PodSpec(spec)
	if spec.Tolerations != nil || spec.Priority != nil || spec.EnableServiceLinks != nil || spec.ServiceAccountName != "" {
		t.Errorf("PodSpec applied pod-only defaults: %+v", spec)
	}
	if spec.Containers[0].Resources.Requests != nil {
		t.Errorf("PodSpec defaulted requests from limits: %v", spec.Containers[0].Resources.Requests)
	}
}
