package printers_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

var (
	now         = printerstest.Now
	ago         = printerstest.Ago
	objectMeta  = printerstest.ObjectMeta
	assertCells = printerstest.AssertCells
)

func ptr[T any](v T) *T { return &v }

func TestColumns(t *testing.T) {
	tests := []struct {
		resource string
		printer  printers.Printer
		want     []string
	}{
		{"pods", printers.Pod(), []string{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"}},
		{"replicationcontrollers", printers.ReplicationController(), []string{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"}},
		{"services", printers.Service(), []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"}},
		{"namespaces", printers.Namespace(), []string{"Name", "Status", "Age"}},
		{"nodes", printers.Node(), []string{"Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*", "OS-Image*", "Kernel-Version*", "Container-Runtime*"}},
		{"events", printers.Event(), []string{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"}},
		{"endpoints", printers.Endpoints(), []string{"Name", "Endpoints", "Age"}},
		{"configmaps", printers.ConfigMap(), []string{"Name", "Data", "Age"}},
		{"secrets", printers.Secret(), []string{"Name", "Type", "Data", "Age"}},
		{"serviceaccounts", printers.ServiceAccount(), []string{"Name", "Secrets", "Age"}},
		{"podtemplates", printers.PodTemplate(), []string{"Name", "Containers", "Images", "Pod Labels"}},
		{"customwidgets", printers.Default(), []string{"Name", "Created At"}},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			printerstest.ExpectColumns(t, tt.printer, tt.want)
		})
	}
}

func TestColumnTypes(t *testing.T) {
	// Age is a rendered string upstream, not a date; RESTARTS became a string
	// when it gained "(5s ago)"; RC counts are integers.
	tests := []struct {
		resource string
		printer  printers.Printer
		column   string
		want     string
	}{
		{"pods", printers.Pod(), "Age", "string"},
		{"pods", printers.Pod(), "Restarts", "string"},
		{"replicationcontrollers", printers.ReplicationController(), "Desired", "integer"},
		{"replicationcontrollers", printers.ReplicationController(), "Ready", "integer"},
		{"events", printers.Event(), "Count", "string"},
		{"customwidgets", printers.Default(), "Created At", "date"},
	}
	for _, tt := range tests {
		found := false
		for _, c := range tt.printer.Columns {
			if c.Name == tt.column {
				found = true
				if c.Type != tt.want {
					t.Errorf("%s %q: type %q, want %q", tt.resource, tt.column, c.Type, tt.want)
				}
			}
		}
		if !found {
			t.Errorf("%s has no column %q", tt.resource, tt.column)
		}
	}
}

func TestReplicationControllerCells(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: objectMeta("frontend", 26*time.Hour),
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr(int32(3)),
			Selector: map[string]string{"app": "frontend", "tier": "web"},
			Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "nginx", Image: "nginx:1.27"},
				{Name: "exporter", Image: "nginx/nginx-prometheus-exporter:1.3"},
			}}},
		},
		Status: corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2},
	}
	assertCells(t, printers.ReplicationController(), rc, []interface{}{
		"frontend", int64(3), int64(3), int64(2), "26h",
		"nginx,exporter", "nginx:1.27,nginx/nginx-prometheus-exporter:1.3", "app=frontend,tier=web",
	})

	bare := &corev1.ReplicationController{ObjectMeta: objectMeta("bare", 90*time.Second)}
	assertCells(t, printers.ReplicationController(), bare, []interface{}{
		"bare", int64(1), int64(0), int64(0), "90s", "", "", "<none>",
	})
}

func TestPodTemplateCells(t *testing.T) {
	pt := &corev1.PodTemplate{
		ObjectMeta: objectMeta("web", time.Hour),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "nginx", Image: "nginx:1.27"},
				{Name: "sidecar", Image: "busybox"},
			}},
		},
	}
	assertCells(t, printers.PodTemplate(), pt, []interface{}{"web", "nginx,sidecar", "nginx:1.27,busybox", "app=web,tier=front"})
	assertCells(t, printers.PodTemplate(), &corev1.PodTemplate{ObjectMeta: objectMeta("bare", time.Hour)},
		[]interface{}{"bare", "", "", "<none>"})
}

func TestServiceCells(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	svc := func(name string, typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: objectMeta(name, 5*time.Minute+30*time.Second),
			Spec:       corev1.ServiceSpec{Type: typ, Ports: ports, Selector: map[string]string{"app": name}},
		}
		if clusterIP != "" {
			s.Spec.ClusterIP = clusterIP
			s.Spec.ClusterIPs = []string{clusterIP}
		}
		return s
	}
	ingress := func(s *corev1.Service, points ...corev1.LoadBalancerIngress) *corev1.Service {
		s.Status.LoadBalancer.Ingress = points
		return s
	}
	externalIPs := func(s *corev1.Service, ips ...string) *corev1.Service {
		s.Spec.ExternalIPs = ips
		return s
	}

	tests := []struct {
		name string
		svc  *corev1.Service
		want []interface{}
	}{{
		name: "cluster IP with two ports",
		svc: svc("kube-dns", corev1.ServiceTypeClusterIP, "10.43.0.10",
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: udp}, corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: tcp}),
		want: []interface{}{"kube-dns", "ClusterIP", "10.43.0.10", "<none>", "53/UDP,53/TCP", "5m30s", "app=kube-dns"},
	}, {
		name: "cluster IP with external IPs",
		svc:  externalIPs(svc("web", corev1.ServiceTypeClusterIP, "10.43.12.7", corev1.ServicePort{Port: 80, Protocol: tcp}), "203.0.113.5", "203.0.113.6"),
		want: []interface{}{"web", "ClusterIP", "10.43.12.7", "203.0.113.5,203.0.113.6", "80/TCP", "5m30s", "app=web"},
	}, {
		name: "node ports",
		svc: svc("web", corev1.ServiceTypeNodePort, "10.43.12.7",
			corev1.ServicePort{Port: 8080, NodePort: 31234, Protocol: tcp}, corev1.ServicePort{Port: 443, NodePort: 30443, Protocol: tcp}),
		want: []interface{}{"web", "NodePort", "10.43.12.7", "<none>", "8080:31234/TCP,443:30443/TCP", "5m30s", "app=web"},
	}, {
		name: "load balancer pending",
		svc:  svc("web", corev1.ServiceTypeLoadBalancer, "10.43.12.7", corev1.ServicePort{Port: 80, NodePort: 30080, Protocol: tcp}),
		want: []interface{}{"web", "LoadBalancer", "10.43.12.7", "<pending>", "80:30080/TCP", "5m30s", "app=web"},
	}, {
		name: "load balancer with ingress IPs and hostname, sorted and deduplicated",
		svc: ingress(svc("web", corev1.ServiceTypeLoadBalancer, "10.43.12.7", corev1.ServicePort{Port: 80, NodePort: 30080, Protocol: tcp}),
			corev1.LoadBalancerIngress{IP: "192.168.1.20"},
			corev1.LoadBalancerIngress{Hostname: "lb.example.com"},
			corev1.LoadBalancerIngress{IP: "192.168.1.10", Hostname: "ignored.example.com"},
			corev1.LoadBalancerIngress{IP: "192.168.1.20"}),
		want: []interface{}{"web", "LoadBalancer", "10.43.12.7", "192.168.1.10,192.168.1.20,lb.example.com", "80:30080/TCP", "5m30s", "app=web"},
	}, {
		name: "load balancer ingress then external IPs",
		svc: externalIPs(ingress(svc("web", corev1.ServiceTypeLoadBalancer, "10.43.12.7", corev1.ServicePort{Port: 80, NodePort: 30080, Protocol: tcp}),
			corev1.LoadBalancerIngress{IP: "192.168.1.10"}), "203.0.113.5"),
		want: []interface{}{"web", "LoadBalancer", "10.43.12.7", "192.168.1.10,203.0.113.5", "80:30080/TCP", "5m30s", "app=web"},
	}, {
		name: "load balancer without ingress but with external IPs",
		svc:  externalIPs(svc("web", corev1.ServiceTypeLoadBalancer, "10.43.12.7", corev1.ServicePort{Port: 80, NodePort: 30080, Protocol: tcp}), "203.0.113.5"),
		want: []interface{}{"web", "LoadBalancer", "10.43.12.7", "203.0.113.5", "80:30080/TCP", "5m30s", "app=web"},
	}, {
		name: "external name",
		svc: func() *corev1.Service {
			s := svc("db", corev1.ServiceTypeExternalName, "")
			s.Spec.ExternalName = "db.example.com"
			s.Spec.Selector = nil
			return s
		}(),
		want: []interface{}{"db", "ExternalName", "<none>", "db.example.com", "<none>", "5m30s", "<none>"},
	}, {
		name: "headless",
		svc:  svc("web-headless", corev1.ServiceTypeClusterIP, "None", corev1.ServicePort{Port: 80, Protocol: tcp}),
		want: []interface{}{"web-headless", "ClusterIP", "None", "<none>", "80/TCP", "5m30s", "app=web-headless"},
	}, {
		name: "dual stack shows the primary family",
		svc: func() *corev1.Service {
			s := svc("web", corev1.ServiceTypeClusterIP, "fd00:43::12", corev1.ServicePort{Port: 80, Protocol: tcp})
			s.Spec.ClusterIPs = []string{"fd00:43::12", "10.43.12.7"}
			return s
		}(),
		want: []interface{}{"web", "ClusterIP", "fd00:43::12", "<none>", "80/TCP", "5m30s", "app=web"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCells(t, printers.Service(), tt.svc, tt.want)
		})
	}
}

func TestNamespaceCells(t *testing.T) {
	assertCells(t, printers.Namespace(),
		&corev1.Namespace{ObjectMeta: objectMeta("kube-system", 40*24*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		[]interface{}{"kube-system", "Active", "40d"})
	assertCells(t, printers.Namespace(),
		&corev1.Namespace{ObjectMeta: objectMeta("old", 3*24*time.Hour+5*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
		[]interface{}{"old", "Terminating", "3d5h"})
}

func TestNodeCells(t *testing.T) {
	node := func(name string, ready corev1.ConditionStatus, labels map[string]string) *corev1.Node {
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: ago(12 * 24 * time.Hour)},
			Status: corev1.NodeStatus{
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeHostName, Address: name},
					{Type: corev1.NodeInternalIP, Address: "192.168.5.11"},
					{Type: corev1.NodeInternalIP, Address: "fd00:5::11"},
				},
				NodeInfo: corev1.NodeSystemInfo{
					KubeletVersion:          "v1.33.2+skiff",
					OSImage:                 "Debian GNU/Linux 12 (bookworm)",
					KernelVersion:           "6.1.0-28-amd64",
					ContainerRuntimeVersion: "containerd://2.0.4",
				},
			},
		}
		if ready != "" {
			n.Status.Conditions = []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: ready},
			}
		}
		return n
	}

	tests := []struct {
		name string
		node *corev1.Node
		want []interface{}
	}{{
		name: "ready control plane",
		node: node("cp-1", corev1.ConditionTrue, map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true", "kubernetes.io/os": "linux",
		}),
		want: []interface{}{"cp-1", "Ready", "control-plane,etcd", "12d", "v1.33.2+skiff",
			"192.168.5.11", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "containerd://2.0.4"},
	}, {
		name: "not ready and cordoned, legacy role label",
		node: func() *corev1.Node {
			n := node("worker-1", corev1.ConditionFalse, map[string]string{"kubernetes.io/role": "worker"})
			n.Spec.Unschedulable = true
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.9"})
			return n
		}(),
		want: []interface{}{"worker-1", "NotReady,SchedulingDisabled", "worker", "12d", "v1.33.2+skiff",
			"192.168.5.11", "203.0.113.9", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "containerd://2.0.4"},
	}, {
		name: "ready condition unknown",
		node: node("worker-2", corev1.ConditionUnknown, nil),
		want: []interface{}{"worker-2", "NotReady", "<none>", "12d", "v1.33.2+skiff",
			"192.168.5.11", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "containerd://2.0.4"},
	}, {
		name: "just registered: no conditions, no node info",
		node: func() *corev1.Node {
			n := node("worker-3", "", nil)
			n.Status.NodeInfo = corev1.NodeSystemInfo{}
			n.Status.Addresses = nil
			n.Spec.Unschedulable = true
			return n
		}(),
		want: []interface{}{"worker-3", "Unknown,SchedulingDisabled", "<none>", "12d", "",
			"<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCells(t, printers.Node(), tt.node, tt.want)
		})
	}
}

func TestEventCells(t *testing.T) {
	tests := []struct {
		name  string
		event runtime.Object
		want  []interface{}
	}{{
		name: "kubelet event repeated",
		event: &corev1.Event{
			ObjectMeta:     objectMeta("web-7d9f.17c1a2b3c4d5e6f7", time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f", FieldPath: "spec.containers{nginx}"},
			Reason:         "BackOff",
			Message:        "Back-off restarting failed container nginx in pod web-7d9f_default\n",
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: ago(time.Hour),
			LastTimestamp:  ago(30 * time.Second),
			Count:          14,
			Type:           corev1.EventTypeWarning,
		},
		want: []interface{}{"30s", "Warning", "BackOff", "pod/web-7d9f", "spec.containers{nginx}", "kubelet, node-1",
			"Back-off restarting failed container nginx in pod web-7d9f_default", "60m", int64(14), "web-7d9f.17c1a2b3c4d5e6f7"},
	}, {
		name: "new-style singleton: event time, reporting controller, no count",
		event: &corev1.Event{
			ObjectMeta:          objectMeta("web.17c1", 4*time.Minute),
			InvolvedObject:      corev1.ObjectReference{Kind: "ReplicationController", Name: "web"},
			Reason:              "SuccessfulCreate",
			Message:             "Created pod: web-7d9f",
			EventTime:           metav1.NewMicroTime(now.Add(-4 * time.Minute)),
			ReportingController: "replication-controller",
			Type:                corev1.EventTypeNormal,
		},
		want: []interface{}{"4m", "Normal", "SuccessfulCreate", "replicationcontroller/web", "", "replication-controller",
			"Created pod: web-7d9f", "4m", int64(1), "web.17c1"},
	}, {
		name: "series overrides last seen and count",
		event: &corev1.Event{
			ObjectMeta:          objectMeta("node-1.17c2", 3*time.Hour),
			InvolvedObject:      corev1.ObjectReference{Kind: "Node", Name: "node-1"},
			Reason:              "NodeNotReady",
			EventTime:           metav1.NewMicroTime(now.Add(-3 * time.Hour)),
			Series:              &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(now.Add(-45 * time.Second))},
			ReportingController: "node-controller",
			ReportingInstance:   "skiff-server",
			Type:                corev1.EventTypeNormal,
		},
		want: []interface{}{"45s", "Normal", "NodeNotReady", "node/node-1", "", "node-controller, skiff-server",
			"", "3h", int64(7), "node-1.17c2"},
	}, {
		name: "no name on the object, no times",
		event: &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "cluster.1"},
			InvolvedObject: corev1.ObjectReference{Kind: "Cluster"},
			Reason:         "Hello",
		},
		want: []interface{}{"<unknown>", "", "Hello", "cluster", "", "", "", "<unknown>", int64(1), "cluster.1"},
	}, {
		name: "events.k8s.io/v1 event prints as its core form",
		event: &eventsv1.Event{
			ObjectMeta:          objectMeta("web-7d9f.17c3", 2*time.Minute),
			EventTime:           metav1.NewMicroTime(now.Add(-2 * time.Minute)),
			ReportingController: "skiff.io/scheduler",
			ReportingInstance:   "skiff-server",
			Action:              "Binding",
			Reason:              "Scheduled",
			Regarding:           corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f"},
			Note:                "Successfully assigned default/web-7d9f to node-1",
			Type:                corev1.EventTypeNormal,
		},
		want: []interface{}{"2m", "Normal", "Scheduled", "pod/web-7d9f", "", "skiff.io/scheduler, skiff-server",
			"Successfully assigned default/web-7d9f to node-1", "2m", int64(1), "web-7d9f.17c3"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCells(t, printers.Event(), tt.event, tt.want)
		})
	}
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{{
		name: "no subsets",
		want: "<none>",
	}, {
		name:    "two addresses",
		subsets: []corev1.EndpointSubset{{Addresses: addrs("10.42.0.5", "10.42.0.6"), Ports: []corev1.EndpointPort{{Port: 8080}}}},
		want:    "10.42.0.5:8080,10.42.0.6:8080",
	}, {
		name:    "truncated after three",
		subsets: []corev1.EndpointSubset{{Addresses: addrs("10.42.0.5", "10.42.0.6", "10.42.0.7", "10.42.0.8"), Ports: []corev1.EndpointPort{{Port: 8080}}}},
		want:    "10.42.0.5:8080,10.42.0.6:8080,10.42.0.7:8080 + 1 more...",
	}, {
		name: "every port of every subset counts",
		subsets: []corev1.EndpointSubset{
			{Addresses: addrs("10.42.0.5", "10.42.0.6"), Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}}},
			{Addresses: addrs("10.42.1.9"), Ports: []corev1.EndpointPort{{Port: 8080}}},
		},
		want: "10.42.0.5:8080,10.42.0.6:8080,10.42.0.5:9090 + 2 more...",
	}, {
		name:    "headless without ports lists bare IPs",
		subsets: []corev1.EndpointSubset{{Addresses: addrs("10.42.0.5", "10.42.0.6")}},
		want:    "10.42.0.5,10.42.0.6",
	}, {
		name:    "IPv6 addresses are bracketed",
		subsets: []corev1.EndpointSubset{{Addresses: addrs("fd00:42::5"), Ports: []corev1.EndpointPort{{Port: 80}}}},
		want:    "[fd00:42::5]:80",
	}, {
		name:    "only not-ready addresses show nothing",
		subsets: []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.42.0.5"), Ports: []corev1.EndpointPort{{Port: 80}}}},
		want:    "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: objectMeta("web", 20*time.Minute), Subsets: tt.subsets}
			assertCells(t, printers.Endpoints(), ep, []interface{}{"web", tt.want, "20m"})
		})
	}
}

func TestSimpleKindCells(t *testing.T) {
	tests := []struct {
		resource string
		printer  printers.Printer
		obj      runtime.Object
		want     []interface{}
	}{
		{"configmaps", printers.ConfigMap(), &corev1.ConfigMap{
			ObjectMeta: objectMeta("kube-root-ca.crt", 7*time.Hour+59*time.Minute),
			Data:       map[string]string{"ca.crt": "...", "extra": "x"},
			BinaryData: map[string][]byte{"blob": {1}},
		}, []interface{}{"kube-root-ca.crt", int64(3), "7h59m"}},
		{"configmaps", printers.ConfigMap(), &corev1.ConfigMap{ObjectMeta: objectMeta("empty", 8*time.Hour)}, []interface{}{"empty", int64(0), "8h"}},
		{"secrets", printers.Secret(), &corev1.Secret{
			ObjectMeta: objectMeta("db-creds", 400*24*time.Hour),
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"username": []byte("app"), "password": []byte("s3cret")},
		}, []interface{}{"db-creds", "Opaque", int64(2), "400d"}},
		{"secrets", printers.Secret(), &corev1.Secret{
			ObjectMeta: objectMeta("tls", 3*365*24*time.Hour),
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": nil},
			StringData: map[string]string{"tls.crt": "dup", "tls.key": "k"},
		}, []interface{}{"tls", "kubernetes.io/tls", int64(2), "3y"}},
		{"serviceaccounts", printers.ServiceAccount(), &corev1.ServiceAccount{
			ObjectMeta: objectMeta("default", 10*time.Second),
		}, []interface{}{"default", int64(0), "10s"}},
		{"serviceaccounts", printers.ServiceAccount(), &corev1.ServiceAccount{
			ObjectMeta: objectMeta("builder", 10*time.Second),
			Secrets:    []corev1.ObjectReference{{Name: "builder-token"}},
		}, []interface{}{"builder", int64(1), "10s"}},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			assertCells(t, tt.printer, tt.obj, tt.want)
		})
	}
}

func TestDefaultPrinter(t *testing.T) {
	obj := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{
		Name:              "tmpl",
		CreationTimestamp: metav1.NewTime(time.Date(2025, 3, 14, 13, 4, 5, 0, time.FixedZone("CET", 3600))),
	}}
	assertCells(t, printers.Default(), obj, []interface{}{"tmpl", "2025-03-14T12:04:05Z"})
	assertCells(t, printers.Default(), &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "zero"}},
		[]interface{}{"zero", "0001-01-01T00:00:00Z"})
}

func TestAges(t *testing.T) {
	tests := []struct {
		created metav1.Time
		want    string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(0), "0s"},
		{ago(-time.Second), "0s"},        // a little clock skew reads as now
		{ago(-time.Minute), "<invalid>"}, // created in the future
		{ago(119 * time.Second), "119s"},
		{ago(2*time.Minute + 5*time.Second), "2m5s"},
		{ago(3*time.Hour + 7*time.Minute), "3h7m"},
		{ago(135 * time.Minute), "135m"},
		{ago(9 * 24 * time.Hour), "9d"},
	}
	for _, tt := range tests {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: tt.created}}
		if got := printers.ConfigMap().Cells(cm, now)[2]; got != tt.want {
			t.Errorf("created %v before now: age %q, want %q", now.Sub(tt.created.Time), got, tt.want)
		}
	}
}

// TestRowsMatchHeaders checks that every printer gives one JSON-friendly cell
// per column, for empty objects and for objects of the wrong kind.
func TestRowsMatchHeaders(t *testing.T) {
	for _, tt := range []struct {
		resource string
		printer  printers.Printer
		zero     runtime.Object
	}{
		{"pods", printers.Pod(), &corev1.Pod{}},
		{"replicationcontrollers", printers.ReplicationController(), &corev1.ReplicationController{}},
		{"services", printers.Service(), &corev1.Service{}},
		{"namespaces", printers.Namespace(), &corev1.Namespace{}},
		{"nodes", printers.Node(), &corev1.Node{}},
		{"events", printers.Event(), &corev1.Event{}},
		{"endpoints", printers.Endpoints(), &corev1.Endpoints{}},
		{"configmaps", printers.ConfigMap(), &corev1.ConfigMap{}},
		{"secrets", printers.Secret(), &corev1.Secret{}},
		{"serviceaccounts", printers.ServiceAccount(), &corev1.ServiceAccount{}},
		{"podtemplates", printers.PodTemplate(), &corev1.PodTemplate{}},
		{"unknownthings", printers.Default(), &corev1.LimitRange{}},
	} {
		t.Run(tt.resource, func(t *testing.T) { printerstest.CheckRows(t, tt.printer, tt.zero) })
	}
}

func TestUnstructured(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   map[string]interface{}{"name": "web", "creationTimestamp": now.Add(-time.Minute).Format(time.RFC3339)},
		"spec": map[string]interface{}{
			"type":       "NodePort",
			"clusterIPs": []interface{}{"10.43.0.20"},
			"ports":      []interface{}{map[string]interface{}{"port": int64(80), "nodePort": int64(30080), "protocol": "TCP"}},
		},
	}}
	assertCells(t, printers.Service(), u, []interface{}{"web", "NodePort", "10.43.0.20", "<none>", "80:30080/TCP", "60s", "<none>"})
}

func TestPrintersAreIndependent(t *testing.T) {
	// A caller that edits the columns it got must not change the next caller's.
	p := printers.Pod()
	p.Columns[0].Name = "changed"
	if got := printers.Pod().Columns[0].Name; got != "Name" {
		t.Errorf("first pod column is %q after a caller edited its copy", got)
	}
}
