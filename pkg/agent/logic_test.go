package agent

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestDerivePodCIDR(t *testing.T) {
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	a, err := derivePodCIDR("10.42.0.0/16", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := derivePodCIDR("10.42.0.0/16", "node-a")
	b, _ := derivePodCIDR("10.42.0.0/16", "node-b")
	ip, n, err := net.ParseCIDR(a)
	if err != nil || !cluster.Contains(ip) || n.Mask.String() != net.CIDRMask(24, 32).String() {
		t.Errorf("derived %q is not a /24 of %s", a, cluster)
	}
	if a != again || a == b {
		t.Errorf("derivation not deterministic or not spread: %s %s %s", a, again, b)
	}
	if got, _ := derivePodCIDR("10.42.3.0/25", "x"); got != "10.42.3.0/25" {
		t.Errorf("a cluster CIDR smaller than /24 is the pod CIDR itself, got %s", got)
	}
	if _, err := derivePodCIDR("fd00::/48", "x"); err == nil {
		t.Error("IPv6 cluster CIDR accepted")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "$(A)"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":      "plain",
		"$(A)":       "alpha",
		"x-$(A)-y":   "x-alpha-y",
		"$(MISSING)": "$(MISSING)",
		"$$(A)":      "$(A)",
		"$(A":        "$(A",
		"cost $5":    "cost $5",
		"$(B)":       "$(A)", // no recursion
		"$(A)$(A)":   "alphaalpha",
		"trailing $": "trailing $",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func newTestAgent(t *testing.T, objs ...metav1.Object) *Agent {
	t.Helper()
	var runtimeObjs []runtimeObject
	for _, o := range objs {
		runtimeObjs = append(runtimeObjs, o.(runtimeObject))
	}
	client := fake.NewClientset(toObjects(runtimeObjs)...)
	a, err := New(client, Options{NodeName: "n1", NodeIP: "192.0.2.10", DataDir: t.TempDir(), ResolvConf: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok {
			_ = idx.Add(s)
		}
	}
	a.services = corelisters.NewServiceLister(idx)
	return a
}

func TestContainerEnv(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns"}, Data: map[string]string{"color": "blue", "size": "L"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "ns"}, Data: map[string][]byte{"password": []byte("s3cret")}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubia-http", Namespace: "ns"}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.43.0.7", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	master := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}},
	}}
	a := newTestAgent(t, cm, sec, svc, master)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u-1", Labels: map[string]string{"app": "kubia"}},
		Spec:       corev1.PodSpec{NodeName: "n1", ServiceAccountName: "default"},
	}
	c := &corev1.Container{
		Name:    "c",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "color"}}},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: ptr.To(true)}}},
			{Name: "GREETING", Value: "hello $(POD_NAME) at $(KUBIA_HTTP_SERVICE_HOST)"},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
	}
	kvs, err := a.containerEnv(context.Background(), &podRefs{a: a, ns: "ns"}, pod, c, []string{"10.42.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvs {
		got[kv.Key] = string(kv.Value)
	}
	want := map[string]string{
		"CFG_color": "blue", "CFG_size": "L", "POD_NAME": "p", "POD_IP": "10.42.0.5", "APP": "kubia", "NODE": "n1",
		"HOST_IP": "192.0.2.10", "COLOR": "blue", "PASSWORD": "s3cret", "GREETING": "hello p at 10.43.0.7", "MEM": "64",
		"KUBIA_HTTP_SERVICE_HOST": "10.43.0.7", "KUBIA_HTTP_SERVICE_PORT": "80", "KUBIA_HTTP_SERVICE_PORT_HTTP": "80",
		"KUBIA_HTTP_PORT": "tcp://10.43.0.7:80", "KUBIA_HTTP_PORT_80_TCP_ADDR": "10.43.0.7", "KUBIA_HTTP_PORT_80_TCP_PROTO": "tcp",
		"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["OPTIONAL"]; ok {
		t.Error("an optional reference to a missing config map set the variable")
	}

	c.Env = append(c.Env, corev1.EnvVar{Name: "BAD", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}})
	_, err = a.containerEnv(context.Background(), &podRefs{a: a, ns: "ns"}, pod, c, nil)
	if err == nil || !isConfigError(err) || !strings.Contains(err.Error(), `configmap "missing" not found`) {
		t.Errorf("missing config map: %v", err)
	}
}

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{Name: "a", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	exit := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	waitingFresh := corev1.ContainerStatus{Name: "a", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	crashLoop := corev1.ContainerStatus{Name: "a",
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	pod := func(policy corev1.RestartPolicy, init bool) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a"}}}}
		if init {
			p.Spec.InitContainers = []corev1.Container{{Name: "a"}}
		}
		return p
	}
	sidecarPod := func(policy corev1.RestartPolicy) *corev1.Pod {
		p := pod(policy, true)
		p.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		return p
	}
	notStarted := running
	notStarted.Started = ptr.To(false)
	started := running
	started.Started = ptr.To(true)
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		init   []corev1.ContainerStatus
		status []corev1.ContainerStatus
		want   corev1.PodPhase
	}{
		{"creating", pod(corev1.RestartPolicyAlways, false), nil, []corev1.ContainerStatus{waitingFresh}, corev1.PodPending},
		{"running", pod(corev1.RestartPolicyAlways, false), nil, []corev1.ContainerStatus{running}, corev1.PodRunning},
		{"crash loop", pod(corev1.RestartPolicyAlways, false), nil, []corev1.ContainerStatus{crashLoop}, corev1.PodRunning},
		{"always, exited 0", pod(corev1.RestartPolicyAlways, false), nil, []corev1.ContainerStatus{exit(0)}, corev1.PodRunning},
		{"never, exited 0", pod(corev1.RestartPolicyNever, false), nil, []corev1.ContainerStatus{exit(0)}, corev1.PodSucceeded},
		{"never, exited 1", pod(corev1.RestartPolicyNever, false), nil, []corev1.ContainerStatus{exit(1)}, corev1.PodFailed},
		{"on failure, exited 0", pod(corev1.RestartPolicyOnFailure, false), nil, []corev1.ContainerStatus{exit(0)}, corev1.PodSucceeded},
		{"on failure, exited 1", pod(corev1.RestartPolicyOnFailure, false), nil, []corev1.ContainerStatus{exit(1)}, corev1.PodRunning},
		{"init running", pod(corev1.RestartPolicyAlways, true), []corev1.ContainerStatus{running}, []corev1.ContainerStatus{waitingFresh}, corev1.PodPending},
		{"init failed, never", pod(corev1.RestartPolicyNever, true), []corev1.ContainerStatus{exit(1)}, []corev1.ContainerStatus{waitingFresh}, corev1.PodFailed},
		{"init done", pod(corev1.RestartPolicyAlways, true), []corev1.ContainerStatus{exit(0)}, []corev1.ContainerStatus{running}, corev1.PodRunning},
		{"no status", pod(corev1.RestartPolicyAlways, false), nil, nil, corev1.PodPending},
		{"sidecar not started", sidecarPod(corev1.RestartPolicyNever), []corev1.ContainerStatus{notStarted}, []corev1.ContainerStatus{waitingFresh}, corev1.PodPending},
		{"sidecar started", sidecarPod(corev1.RestartPolicyNever), []corev1.ContainerStatus{started}, []corev1.ContainerStatus{running}, corev1.PodRunning},
		{"app done, sidecar running", sidecarPod(corev1.RestartPolicyNever), []corev1.ContainerStatus{started}, []corev1.ContainerStatus{exit(0)}, corev1.PodRunning},
		{"app done, sidecar stopped", sidecarPod(corev1.RestartPolicyNever), []corev1.ContainerStatus{exit(137)}, []corev1.ContainerStatus{exit(0)}, corev1.PodSucceeded},
		{"sidecar restarting after init", sidecarPod(corev1.RestartPolicyAlways), []corev1.ContainerStatus{notStarted}, []corev1.ContainerStatus{running}, corev1.PodRunning},
	} {
		if got := podPhase(tc.pod, tc.init, tc.status); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestDNSConfig(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	os.WriteFile(rc, []byte("# comment\nnameserver 192.0.2.53\nsearch example.com corp\noptions edns0\n"), 0o644)
	a, err := New(fake.NewClientset(), Options{NodeName: "n", NodeIP: "192.0.2.1", DataDir: dir, ResolvConf: rc})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
	// No cluster DNS: the node's resolver, as upstream.
	if got := a.dnsConfig(pod); !slices.Equal(got.Servers, []string{"192.0.2.53"}) || !slices.Equal(got.Searches, []string{"example.com", "corp"}) {
		t.Errorf("ClusterFirst without cluster DNS: %+v", got)
	}
	a.opts.ClusterDNS = []string{"10.43.0.10"}
	got := a.dnsConfig(pod)
	if !slices.Equal(got.Servers, []string{"10.43.0.10"}) || !slices.Equal(got.Searches, []string{"ns.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.com", "corp"}) || !slices.Equal(got.Options, []string{"ndots:5"}) {
		t.Errorf("ClusterFirst: %+v", got)
	}
	pod.Spec.DNSPolicy = corev1.DNSNone
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}}
	if got := a.dnsConfig(pod); !slices.Equal(got.Servers, []string{"1.1.1.1"}) || len(got.Searches) != 0 || !slices.Equal(got.Options, []string{"ndots:2"}) {
		t.Errorf("None with dnsConfig: %+v", got)
	}
}

func TestHostsFile(t *testing.T) {
	a := &Agent{opts: Options{ClusterDomain: "cluster.local"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{
		Subdomain:   "web",
		HostAliases: []corev1.HostAlias{{IP: "192.0.2.9", Hostnames: []string{"foo.local", "bar.local"}}},
	}}
	got := string(a.hostsFileContent(pod, []string{"10.42.0.9"}))
	for _, want := range []string{"# Kubernetes-managed hosts file.\n", "127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n",
		"10.42.0.9\tweb-0.web.ns.svc.cluster.local\tweb-0\n", "192.0.2.9\tfoo.local\tbar.local\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}

func TestCNIConfig(t *testing.T) {
	b, err := cniConfig("10.42.3.0/24", "/data/ipam", 0)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string
		Plugins []map[string]any
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0]["type"] != "bridge" || conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("plugins: %s", b)
	}
	br := conf.Plugins[0]
	if br["bridge"] != "skiff0" || br["isGateway"] != true || br["ipMasq"] != false || br["hairpinMode"] != true {
		t.Errorf("bridge: %v", br)
	}
	if !strings.Contains(string(b), `"subnet": "10.42.3.0/24"`) || !strings.Contains(string(b), `"dst": "0.0.0.0/0"`) || !strings.Contains(string(b), `"dataDir": "/data/ipam"`) {
		t.Errorf("ipam: %s", b)
	}
}

func TestLinuxResources(t *testing.T) {
	a := &Agent{}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}}}}
	r := a.linuxResources(pod, &pod.Spec.Containers[0])
	if r.CpuShares != 256 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemoryLimitInBytes != 128<<20 {
		t.Errorf("resources %+v", r)
	}
	if q := qosClass(pod); q != corev1.PodQOSBurstable {
		t.Errorf("QoS %s", q)
	}
	best := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	if r := a.linuxResources(best, &best.Spec.Containers[0]); r.CpuShares != minShares || r.CpuQuota != 0 || r.OomScoreAdj != 1000 {
		t.Errorf("best effort resources %+v", r)
	}
}

func TestTailLogMessage(t *testing.T) {
	log := "2026-01-01T00:00:00Z stdout F one\n2026-01-01T00:00:01Z stderr F two words\n"
	if got := tailLogMessage([]byte(log), 80, 2048); got != "one\ntwo words" {
		t.Errorf("got %q", got)
	}
	if got := tailLogMessage([]byte(log), 1, 2048); got != "two words" {
		t.Errorf("last line: %q", got)
	}
}

func TestFinalPhase(t *testing.T) {
	exited := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	for _, c := range []struct {
		name     string
		statuses []corev1.ContainerStatus
		want     corev1.PodPhase
	}{
		{"every container exited 0", []corev1.ContainerStatus{exited(0), exited(0)}, corev1.PodSucceeded},
		{"one exited 143", []corev1.ContainerStatus{exited(0), exited(143)}, corev1.PodFailed},
		{"one never started", []corev1.ContainerStatus{exited(0), waiting}, corev1.PodFailed},
		{"no statuses", nil, corev1.PodFailed},
	} {
		if got := finalPhase(c.statuses); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestHTTPGetRequest: an httpGet probe's or hook's path may carry a query,
// which reaches the server as a query (upstream's lifecycle hook tests call
// /echo?msg=poststart), and a Host header sets the request's host.
func TestHTTPGetRequest(t *testing.T) {
	g := &corev1.HTTPGetAction{Path: "/dial?host=10.0.0.1&request=echo%3Fmsg%3Dprestop", HTTPHeaders: []corev1.HTTPHeader{{Name: "Host", Value: "example"}, {Name: "X-A", Value: "b"}}}
	req, err := httpGetRequest(context.Background(), g, "10.42.0.5", 8080)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.String(); got != "http://10.42.0.5:8080/dial?host=10.0.0.1&request=echo%3Fmsg%3Dprestop" {
		t.Errorf("URL %s", got)
	}
	if req.Host != "example" || req.Header.Get("X-A") != "b" {
		t.Errorf("host %q, headers %v", req.Host, req.Header)
	}
}

// TestKeepExtended: extended resources others advertise on the node survive
// the agent's status posts; the node's own resources are the agent's.
func TestKeepExtended(t *testing.T) {
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	keepExtended(l, corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("64"), "example.com/fakecpu": resource.MustParse("1k"),
		"kubernetes.io/foo": resource.MustParse("1"), "hugepages-2Mi": resource.MustParse("1Gi"),
	})
	if len(l) != 2 || l.Cpu().String() != "2" || l.Name("example.com/fakecpu", resource.DecimalSI).String() != "1k" {
		t.Errorf("kept %v", l)
	}
}

// TestResizeInfeasible: a resize asking for more than the node can allocate
// is not applied and shows as PodResizePending with reason Infeasible.
func TestResizeInfeasible(t *testing.T) {
	a := &Agent{registered: &corev1.Node{Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}},
		{Name: "b", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
	}}}
	why := a.resizeInfeasible(pod)
	if why == "" {
		t.Fatal("2.5 CPUs on a 2-CPU node: feasible")
	}
	c := resizeCondition(pod, why)
	if c == nil || c.Type != corev1.PodResizePending || c.Reason != corev1.PodReasonInfeasible || c.ObservedGeneration != 3 {
		t.Errorf("condition %+v", c)
	}
	pod.Spec.Containers[1].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("500m")
	if why := a.resizeInfeasible(pod); why != "" || resizeCondition(pod, why) != nil {
		t.Errorf("2 CPUs on a 2-CPU node: %q", why)
	}
}
