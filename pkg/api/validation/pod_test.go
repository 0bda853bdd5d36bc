package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

func TestValidatePodValid(t *testing.T) {
	expectErrs(t, ValidatePod(validPod()))

	full := validPod()
	full.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}, DefaultMode: ptr.To(int32(0o644)),
			Items: []corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}},
		}}},
		{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(int64(3607))}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}},
	}
	full.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"true"}}}
	full.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP, HostPort: 53}}
	full.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "MODE", Value: "prod"},
		{Name: "my.relaxed-name", Value: "x"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
		{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
		{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
	}
	full.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}}
	full.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "conf", MountPath: "/etc/app", ReadOnly: true}, {Name: "token", MountPath: "/var/run/secrets/token"}}
	full.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi"), "example.com/gpu": resource.MustParse("1")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi"), "example.com/gpu": resource.MustParse("1")},
	}
	full.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}}, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	full.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 2, FailureThreshold: 3}
	full.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	full.Spec.Containers = append(full.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError})
	full.Spec.Tolerations = append(full.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}, corev1.Toleration{Operator: corev1.TolerationOpExists})
	full.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	full.Spec.Hostname, full.Spec.Subdomain = "web-0", "web"
	full.Spec.ActiveDeadlineSeconds = ptr.To(int64(600))
	full.Spec.DNSPolicy = corev1.DNSNone
	full.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"svc.cluster.local.", ".", "_sip._tcp.abc_d.example.com"}}
	full.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"db.local"}}}
	full.Status.PodIPs = []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00::5"}}
	defaults.Pod(full, defaults.PodOptions{})
	expectErrs(t, ValidatePod(full))
}

// TestValidatePodMessages pins the lines kubectl users meet most.
func TestValidatePodMessages(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].Image = ""
	expectMessage(t, ValidatePod(p), "spec.containers[0].image: Required value")

	p = validPod()
	p.Spec.Containers = nil
	expectMessage(t, ValidatePod(p), "spec.containers: Required value")

	p = validPod()
	p.Spec.RestartPolicy = "Sometimes"
	expectMessage(t, ValidatePod(p), `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`)

	p = validPod()
	p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
	}
	expectMessage(t, ValidatePod(p), `spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`)

	p = validPod()
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	expectMessage(t, ValidatePod(p), `spec.containers[0].volumeMounts[0].name: Not found: "data"`)
}

func TestValidatePod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []e
	}{
		{"container name missing", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" },
			[]e{required("spec.containers[0].name")}},
		{"container name not a label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" },
			[]e{invalid("spec.containers[0].name", "RFC 1123 label")}},
		{"duplicate container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) },
			[]e{duplicate("spec.containers[1].name")}},
		{"init container clashes with container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
		}, []e{duplicate("spec.initContainers[0].name")}},
		{"init container without image", func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name, c.Image = "init", ""
			p.Spec.InitContainers = []corev1.Container{c}
		}, []e{required("spec.initContainers[0].image")}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" },
			[]e{invalid("spec.containers[0].image", "must not have leading or trailing whitespace")}},
		{"pull policy", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" },
			[]e{notSupported("spec.containers[0].imagePullPolicy", `"Always", "IfNotPresent", "Never"`)}},
		{"termination message policy", func(p *corev1.Pod) { p.Spec.Containers[0].TerminationMessagePolicy = "" },
			[]e{required("spec.containers[0].terminationMessagePolicy")}},
		{"container port missing", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Protocol: corev1.ProtocolTCP}}
		}, []e{required("spec.containers[0].ports[0].containerPort")}},
		{"container port out of range", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, HostPort: -1, Protocol: corev1.ProtocolTCP}}
		}, []e{invalid("spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive"), invalid("spec.containers[0].ports[0].hostPort", "must be between 1 and 65535")}},
		{"port protocol", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "HTTP"}, {ContainerPort: 81}}
		}, []e{notSupported("spec.containers[0].ports[0].protocol", `"SCTP", "TCP", "UDP"`), required("spec.containers[0].ports[1].protocol")}},
		{"port names", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
				{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP},
				{Name: "Metrics", ContainerPort: 82, Protocol: corev1.ProtocolTCP},
			}
		}, []e{duplicate("spec.containers[0].ports[1].name"), invalid("spec.containers[0].ports[2].name", "must contain only alpha-numeric characters")}},
		{"host port conflict", func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name = "other"
			c.Ports = []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []e{duplicate("spec.containers[1].ports[0].hostPort")}},
		{"host network needs matching host port", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, []e{invalid("spec.containers[0].ports[0].hostPort", "must match `containerPort` when `hostNetwork` is true")}},
		{"restart policy missing", func(p *corev1.Pod) { p.Spec.RestartPolicy = "" },
			[]e{required("spec.restartPolicy")}},
		{"dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" },
			[]e{notSupported("spec.dnsPolicy", `"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`)}},
		{"dns policy None without config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone },
			[]e{{"FieldValueRequired", "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"}}},
		{"dns config", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "not-an-ip"}, Searches: []string{"Bad_Domain"}, Options: []corev1.PodDNSConfigOption{{}}}
		}, []e{
			invalid("spec.dnsConfig.nameservers", "must not have more than 3 nameservers"),
			invalid("spec.dnsConfig.nameservers[3]", "must be a valid IP address"),
			invalid("spec.dnsConfig.searches[0]", "RFC 1123 subdomain"),
			{"FieldValueRequired", "spec.dnsConfig.options[0]", "must not be empty"},
		}},
		{"grace period missing", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil },
			[]e{required("spec.terminationGracePeriodSeconds")}},
		{"active deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(0)) },
			[]e{invalid("spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive")}},
		{"names of things referred to", func(p *corev1.Pod) {
			p.Spec.NodeName = "Node_1"
			p.Spec.ServiceAccountName = "Robot"
			p.Spec.Hostname = "web.0"
			p.Spec.Subdomain = "-web"
			p.Spec.PriorityClassName = "High"
			p.Spec.RuntimeClassName = ptr.To("gVisor")
		}, []e{
			invalid("spec.nodeName", ""), invalid("spec.serviceAccountName", ""),
			invalid("spec.hostname", "must not contain dots"), invalid("spec.subdomain", ""),
			invalid("spec.priorityClassName", ""), invalid("spec.runtimeClassName", ""),
		}},
		{"preemption policy", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Always")) },
			[]e{notSupported("spec.preemptionPolicy", "")}},
		{"node selector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "fast ssd"} },
			[]e{invalid("spec.nodeSelector", "")}},
		{"security context", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(-1)), FSGroup: ptr.To(int64(-5)), SupplementalGroups: []int64{1, -2}}
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false), RunAsGroup: ptr.To(int64(-1))}
		}, []e{
			invalid("spec.securityContext.runAsUser", "must be between 0 and 2147483647"),
			invalid("spec.securityContext.fsGroup", ""),
			invalid("spec.securityContext.supplementalGroups[1]", ""),
			invalid("spec.containers[0].securityContext.runAsGroup", ""),
			invalid("spec.containers[0].securityContext", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"),
		}},
		{"tolerations", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "a", Operator: corev1.TolerationOpExists, Value: "x"},
				{Key: "b", Operator: "In"},
				{Key: "c", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To(int64(5))},
				{Key: "d", Effect: "Evict"},
				{Key: "bad key"},
			}
		}, []e{
			invalid("spec.tolerations[0].operator", "operator must be Exists when `key` is empty"),
			invalid("spec.tolerations[1].operator", "value must be empty when `operator` is 'Exists'"),
			notSupported("spec.tolerations[2].operator", `"Equal", "Exists"`),
			invalid("spec.tolerations[3].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"),
			notSupported("spec.tolerations[4].effect", `"NoSchedule", "PreferNoSchedule", "NoExecute"`),
			invalid("spec.tolerations[5].key", ""),
		}},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("debug")}
		}, []e{forbidden("spec.ephemeralContainers", "cannot be set on create")}},
		{"node name with scheduling gates", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}, {Name: "example.com/wait"}}
		}, []e{forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"), duplicate("spec.schedulingGates[1]")}},
		{"readiness gate", func(p *corev1.Pod) { p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "not valid"}} },
			[]e{invalid("spec.readinessGates[0].conditionType", "")}},
		{"host alias", func(p *corev1.Pod) {
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.300", Hostnames: []string{"DB"}}}
		},
			[]e{invalid("spec.hostAliases[0].ip", ""), invalid("spec.hostAliases[0].hostnames[0]", "")}},
		{"pod IPs", func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}}
		}, []e{invalid("status.podIPs", "may specify no more than one IP for each IP family")}},
		{"pod IP invalid", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "010.0.0.1"}} },
			[]e{invalid("status.podIPs[0]", "must not have leading 0s")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(p)
			expectErrs(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidateEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []corev1.EnvVar
		from []corev1.EnvFromSource
		want []e
	}{
		{name: "empty name", env: []corev1.EnvVar{{Value: "x"}},
			want: []e{required("spec.containers[0].env[0].name"), invalid("spec.containers[0].env[0].name", "environment variable name must be non-empty")}},
		{name: "equals sign", env: []corev1.EnvVar{{Name: "A=B"}},
			want: []e{invalid("spec.containers[0].env[0].name", "a valid environment variable name must consist only of printable ASCII characters other than '='")}},
		{name: "no source", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")}},
		{name: "value and valueFrom", env: []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty")}},
		{name: "two sources", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
			FieldRef:        &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"},
		}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom", "may not have more than one field specified at a time")}},
		{name: "unsupported field path", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}}},
			want: []e{notSupported("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `"metadata.name"`)}},
		{name: "field path version", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "unsupported pod version: v2")}},
		{name: "bad label subscript", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['a b']"}}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom.fieldRef", "")}},
		{name: "secret key", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "Db"}}}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom.secretKeyRef.name", ""), required("spec.containers[0].env[0].valueFrom.secretKeyRef.key")}},
		{name: "config map key", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "a/b"}}}},
			want: []e{invalid("spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "a valid config key")}},
		{name: "resource field", env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.gpu"}}}},
			want: []e{notSupported("spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", "")}},
		{name: "envFrom without source", from: []corev1.EnvFromSource{{Prefix: "A="}},
			want: []e{invalid("spec.containers[0].envFrom", "must specify one of: `configMapRef` or `secretRef`"), invalid("spec.containers[0].envFrom[0].prefix", "")}},
		{name: "envFrom two sources", from: []corev1.EnvFromSource{{
			ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}},
			SecretRef:    &corev1.SecretEnvSource{},
		}},
			want: []e{invalid("spec.containers[0].envFrom", "may not have more than one field specified at a time"), required("spec.containers[0].envFrom[0].secretRef.name")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			p.Spec.Containers[0].Env = tc.env
			p.Spec.Containers[0].EnvFrom = tc.from
			expectErrs(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidateResources(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		r    corev1.ResourceRequirements
		want []e
	}{
		{name: "request equals limit", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("1")}, Requests: corev1.ResourceList{"cpu": q("1000m")}}},
		{name: "not a container resource", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"pods": q("1")}},
			want: []e{invalid("spec.containers[0].resources.limits[pods]", "must be a standard resource for containers")}},
		{name: "bad extended name", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"example.com/a/b": q("1")}, Requests: corev1.ResourceList{"example.com/a/b": q("1")}},
			want: []e{
				invalid("spec.containers[0].resources.limits[example.com/a/b]", "a valid label key must consist of"),
				invalid("spec.containers[0].resources.limits[example.com/a/b]", "doesn't follow extended resource name standard"),
				invalid("spec.containers[0].resources.requests[example.com/a/b]", "a valid label key must consist of"),
				invalid("spec.containers[0].resources.requests[example.com/a/b]", "doesn't follow extended resource name standard"),
			}},
		{name: "negative", r: corev1.ResourceRequirements{Requests: corev1.ResourceList{"memory": q("-1Mi")}},
			want: []e{invalid("spec.containers[0].resources.requests[memory]", "must be greater than or equal to 0")}},
		{name: "extended without limit", r: corev1.ResourceRequirements{Requests: corev1.ResourceList{"example.com/gpu": q("1")}},
			want: []e{{"FieldValueRequired", "spec.containers[0].resources.limits", "Limit must be set for non overcommitable resources"}}},
		{name: "extended request below limit", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"example.com/gpu": q("2")}, Requests: corev1.ResourceList{"example.com/gpu": q("1")}},
			want: []e{invalid("spec.containers[0].resources.requests", "must be equal to example.com/gpu limit of 2")}},
		{name: "fractional extended", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"example.com/gpu": q("500m")}},
			want: []e{invalid("spec.containers[0].resources.limits[example.com/gpu]", "must be an integer")}},
		{name: "huge pages alone", r: corev1.ResourceRequirements{Limits: corev1.ResourceList{"hugepages-2Mi": q("4Mi")}},
			want: []e{forbidden("spec.containers[0].resources", "HugePages require cpu or memory")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			p.Spec.Containers[0].Resources = tc.r
			expectErrs(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidateVolumes(t *testing.T) {
	mode := func(m int32) *int32 { return &m }
	for _, tc := range []struct {
		name    string
		volumes []corev1.Volume
		mounts  []corev1.VolumeMount
		want    []e
	}{
		{name: "no source", volumes: []corev1.Volume{{Name: "v"}},
			want: []e{{"FieldValueRequired", "spec.volumes[0]", "must specify a volume type"}}},
		{name: "two sources", volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}, EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			want: []e{forbidden("spec.volumes[0].hostPath", "may not specify more than 1 volume type")}},
		{name: "names", volumes: []corev1.Volume{
			{VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "Data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}, want: []e{required("spec.volumes[0].name"), invalid("spec.volumes[1].name", "RFC 1123 label"), duplicate("spec.volumes[3].name")}},
		{name: "secret", volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			DefaultMode: mode(0o1000), Items: []corev1.KeyToPath{{Key: "", Path: "/abs", Mode: mode(-1)}, {Key: "k", Path: "a/../../b"}, {Key: "k", Path: "..data"}},
		}}}}, want: []e{
			required("spec.volumes[0].secret.secretName"),
			invalid("spec.volumes[0].secret.defaultMode", "must be a number between 0 and 0777 (octal), both inclusive"),
			required("spec.volumes[0].secret.items[0].key"),
			invalid("spec.volumes[0].secret.items[0].path", "must be a relative path"),
			invalid("spec.volumes[0].secret.items[0].mode", "0777"),
			invalid("spec.volumes[0].secret.items[1].path", "must not contain '..'"),
			invalid("spec.volumes[0].secret.items[2].path", "must not start with '..'"),
		}},
		{name: "configMap name", volumes: []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}},
			want: []e{required("spec.volumes[0].configMap.name")}},
		{name: "hostPath", volumes: []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/a/../etc", Type: ptr.To(corev1.HostPathType("Pipe"))}}}},
			want: []e{invalid("spec.volumes[0].hostPath.path", "must not contain '..'"), notSupported("spec.volumes[0].hostPath.type", `"BlockDevice"`)}},
		{name: "pvc", volumes: []corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}}},
			want: []e{required("spec.volumes[0].persistentVolumeClaim.claimName")}},
		{name: "downwardAPI", volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "a", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}},
			{Path: "b"},
		}}}}}, want: []e{
			notSupported("spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath", `"metadata.annotations"`),
			{"FieldValueRequired", "spec.volumes[0].downwardAPI.items[1]", "one of fieldRef and resourceFieldRef is required"},
		}},
		{name: "projected", volumes: []corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t", ExpirationSeconds: ptr.To(int64(60))}},
			{Secret: &corev1.SecretProjection{Items: []corev1.KeyToPath{{Key: "k", Path: "t"}}}},
		}}}}}, want: []e{
			{"FieldValueRequired", "spec.volumes[0].projected.sources[0]", "must specify exactly 1 volume type"},
			invalid("spec.volumes[0].projected.sources[1].serviceAccountToken.expirationSeconds", "may not specify a duration less than 10 minutes"),
			required("spec.volumes[0].projected.sources[2].secret.name"),
			invalid("spec.volumes[0].projected.sources[2].secret.items[0].path", "conflicting duplicate paths"),
		}},
		{name: "mounts", volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			mounts: []corev1.VolumeMount{
				{Name: "v", MountPath: "/a"},
				{Name: "v", MountPath: "/a", SubPath: "/abs"},
				{Name: "missing"},
				{Name: "v", MountPath: "/b", SubPath: "x", SubPathExpr: "$(POD)"},
			}, want: []e{
				invalid("spec.containers[0].volumeMounts[1].mountPath", "must be unique"),
				invalid("spec.containers[0].volumeMounts.subPath", "must be a relative path"),
				notFound("spec.containers[0].volumeMounts[2].name"),
				required("spec.containers[0].volumeMounts[2].mountPath"),
				invalid("spec.containers[0].volumeMounts[3].subPathExpr", "subPathExpr and subPath are mutually exclusive"),
			}},
		{name: "mount of an invalid volume", volumes: []corev1.Volume{{Name: "v"}}, mounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}},
			want: []e{{"FieldValueRequired", "spec.volumes[0]", "must specify a volume type"}, notFound("spec.containers[0].volumeMounts[0].name")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			p.Spec.Volumes = tc.volumes
			p.Spec.Containers[0].VolumeMounts = tc.mounts
			expectErrs(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidateProbes(t *testing.T) {
	httpProbe := func() *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Container)
		want   []e
	}{
		{"no handler", func(c *corev1.Container) { c.LivenessProbe = &corev1.Probe{SuccessThreshold: 1} },
			[]e{{"FieldValueRequired", "spec.containers[0].livenessProbe", "must specify a handler type"}}},
		{"two handlers", func(c *corev1.Container) {
			c.LivenessProbe = httpProbe()
			c.LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}
		}, []e{forbidden("spec.containers[0].livenessProbe.tcpSocket", "may not specify more than 1 handler type")}},
		{"liveness success threshold", func(c *corev1.Container) { c.LivenessProbe = httpProbe(); c.LivenessProbe.SuccessThreshold = 3 },
			[]e{invalid("spec.containers[0].livenessProbe.successThreshold", "must be 1")}},
		{"startup success threshold", func(c *corev1.Container) { c.StartupProbe = httpProbe(); c.StartupProbe.SuccessThreshold = 3 },
			[]e{invalid("spec.containers[0].startupProbe.successThreshold", "must be 1")}},
		{"negative numbers", func(c *corev1.Container) {
			c.ReadinessProbe = httpProbe()
			c.ReadinessProbe.InitialDelaySeconds, c.ReadinessProbe.TimeoutSeconds, c.ReadinessProbe.PeriodSeconds, c.ReadinessProbe.FailureThreshold = -1, -1, -1, -1
		}, []e{
			invalid("spec.containers[0].readinessProbe.initialDelaySeconds", "must be greater than or equal to 0"),
			invalid("spec.containers[0].readinessProbe.timeoutSeconds", ""),
			invalid("spec.containers[0].readinessProbe.periodSeconds", ""),
			invalid("spec.containers[0].readinessProbe.failureThreshold", ""),
		}},
		{"readiness grace period", func(c *corev1.Container) {
			c.ReadinessProbe = httpProbe()
			c.ReadinessProbe.TerminationGracePeriodSeconds = ptr.To(int64(5))
		}, []e{invalid("spec.containers[0].readinessProbe.terminationGracePeriodSeconds", "must not be set for readinessProbes")}},
		{"liveness grace period", func(c *corev1.Container) {
			c.LivenessProbe = httpProbe()
			c.LivenessProbe.TerminationGracePeriodSeconds = ptr.To(int64(0))
		}, []e{invalid("spec.containers[0].livenessProbe.terminationGracePeriodSeconds", "must be greater than 0")}},
		{"httpGet", func(c *corev1.Container) {
			c.LivenessProbe = httpProbe()
			c.LivenessProbe.HTTPGet = &corev1.HTTPGetAction{Port: intstr.FromInt32(0), Scheme: "FTP", HTTPHeaders: []corev1.HTTPHeader{{Name: "Bad Header"}}}
		}, []e{
			required("spec.containers[0].livenessProbe.httpGet.path"),
			invalid("spec.containers[0].livenessProbe.httpGet.port", "must be between 1 and 65535"),
			notSupported("spec.containers[0].livenessProbe.httpGet.scheme", `"HTTP", "HTTPS"`),
			invalid("spec.containers[0].livenessProbe.httpGet.httpHeaders", "a valid HTTP header must consist of"),
		}},
		{"exec and tcp and grpc", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}, SuccessThreshold: 1}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("Web")}}}
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 0}}, SuccessThreshold: 1}
		}, []e{
			required("spec.containers[0].livenessProbe.exec.command"),
			invalid("spec.containers[0].readinessProbe.tcpSocket.port", "must contain only alpha-numeric characters"),
			invalid("spec.containers[0].startupProbe.grpc.port", ""),
		}},
		{"lifecycle", func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{
				PostStart: &corev1.LifecycleHandler{},
				PreStop:   &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}},
			}
		}, []e{
			{"FieldValueRequired", "spec.containers[0].lifecycle.postStart", "must specify a handler type"},
			invalid("spec.containers[0].lifecycle.preStop.sleep", "must be non-negative and less than terminationGracePeriodSeconds (30)"),
		}},
		{"container restart policy", func(c *corev1.Container) { c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicy("Sometimes")) },
			[]e{notSupported("spec.containers[0].restartPolicy", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(&p.Spec.Containers[0])
			expectErrs(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidateInitContainers(t *testing.T) {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 1}
	init := func() corev1.Container {
		p := validPod()
		c := p.Spec.Containers[0]
		c.Name = "init"
		return c
	}

	plain := init()
	plain.LivenessProbe, plain.ReadinessProbe, plain.StartupProbe = probe, probe, probe
	plain.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	p := validPod()
	p.Spec.InitContainers = []corev1.Container{plain}
	expectErrs(t, ValidatePod(p),
		forbidden("spec.initContainers[0].lifecycle", "may not be set for init containers without restartPolicy=Always"),
		forbidden("spec.initContainers[0].livenessProbe", "may not be set for init containers without restartPolicy=Always"),
		forbidden("spec.initContainers[0].readinessProbe", "may not be set for init containers"),
		forbidden("spec.initContainers[0].startupProbe", "may not be set for init containers without restartPolicy=Always"),
	)

	sidecar := plain
	sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	p.Spec.InitContainers = []corev1.Container{sidecar}
	expectErrs(t, ValidatePod(p))

	never := init()
	never.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyNever)
	p.Spec.InitContainers = []corev1.Container{never}
	expectErrs(t, ValidatePod(p), notSupported("spec.initContainers[0].restartPolicy", `"Always"`))
}
