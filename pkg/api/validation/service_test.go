package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// service is a defaulted service of the given type with one port, as
// `kubectl expose` would send it.
func service(typ corev1.ServiceType, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	defaults.Service(s)
	return s
}

func TestValidateServiceValid(t *testing.T) {
	for name, s := range map[string]*corev1.Service{
		"ClusterIP":    service(corev1.ServiceTypeClusterIP),
		"NodePort":     service(corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
		"LoadBalancer": service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }),
		"ExternalName": service(corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "db.example.com."; s.Spec.Ports = nil }),
		"headless without ports": service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "None"
			s.Spec.Ports = nil
		}),
		"headless without selector": service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "None"
			s.Spec.Selector = nil
		}),
		"allocated IP and named ports": service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.10"
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53}}
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.ExternalIPs = []string{"192.0.2.10"}
		}),
		"local traffic with health check": service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 31000
		}),
	} {
		t.Run(name, func(t *testing.T) { expectErrs(t, ValidateService(s)) })
	}
}

func TestValidateServiceMessages(t *testing.T) {
	s := service(corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 80 })
	expectMessage(t, ValidateService(s), "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767")

	s = service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports = nil })
	expectMessage(t, ValidateService(s), "spec.ports: Required value")

	// A name may start with a digit (RelaxedServiceNameValidation, GA in 1.37).
	s = service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Name = "1kubernetes" })
	if errs := ValidateService(s); len(errs) != 0 {
		t.Errorf("a Service named 1kubernetes: %v", errs)
	}
	s = service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Name = "-web" })
	expectMessage(t, ValidateService(s), `metadata.name: Invalid value: "-web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`)
}

func TestValidateService(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want []e
	}{
		{"port out of range", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) }),
			[]e{invalid("spec.ports[0].port", "must be between 1 and 65535, inclusive")}},
		{"protocol", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }),
			[]e{notSupported("spec.ports[0].protocol", `"SCTP", "TCP", "UDP"`)}},
		{"target port", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Web_Port") }),
			[]e{invalid("spec.ports[0].targetPort", "")}},
		{"app protocol", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].AppProtocol = ptr.To("http 2") }),
			[]e{invalid("spec.ports[0].appProtocol", "")}},
		{"names needed with several ports", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}}
		}), []e{required("spec.ports[0].name"), required("spec.ports[1].name")}},
		{"port names", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80}, {Name: "web", Port: 443}, {Name: "Metrics", Port: 9090}}
		}), []e{duplicate("spec.ports[1].name"), invalid("spec.ports[2].name", "RFC 1123 label")}},
		{"same port twice", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}, {Name: "c", Port: 80, Protocol: corev1.ProtocolUDP}}
		}), []e{duplicate("spec.ports[1]")}},
		{"node port on ClusterIP", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			[]e{forbidden("spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'")}},
		{"node port twice", service(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80, NodePort: 30080}, {Name: "b", Port: 81, NodePort: 30080}}
		}), []e{duplicate("spec.ports[1].nodePort")}},
		{"type", service("Internal"),
			[]e{notSupported("spec.type", `"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`)}},
		{"selector", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "web app"} }),
			[]e{invalid("spec.selector", "")}},
		{"session affinity", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }),
			[]e{notSupported("spec.sessionAffinity", `"ClientIP", "None"`)}},
		{"affinity timeout", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(86401))}}
		}), []e{invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "must be greater than 0 and less than 86400")}},
		{"affinity config with None", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP)
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
			return s
		}(), []e{forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")}},
		{"ClientIP without config", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP)
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			return s
		}(), []e{{"FieldValueRequired", "spec.sessionAffinityConfig", "when session affinity type is ClientIP"}}},
		{"ExternalName without name", service(corev1.ServiceTypeExternalName),
			[]e{required("spec.externalName")}},
		{"ExternalName invalid", service(corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "Bad_Host" }),
			[]e{invalid("spec.externalName", "RFC 1123 subdomain")}},
		{"ExternalName with IP fields", func() *corev1.Service {
			s := service(corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "db.example.com" })
			s.Spec.ClusterIPs = []string{"10.96.0.5"}
			s.Spec.ClusterIP = "10.96.0.5"
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
			return s
		}(), []e{forbidden("spec.clusterIPs", ""), forbidden("spec.ipFamilies", ""), forbidden("spec.ipFamilyPolicy", "")}},
		{"headless LoadBalancer", service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
			[]e{invalid("spec.clusterIPs[0]", "may not be set to 'None' for LoadBalancer services")}},
		{"headless NodePort", service(corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
			[]e{invalid("spec.clusterIPs[0]", "may not be set to 'None' for NodePort services")}},
		{"clusterIP and clusterIPs disagree", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.5" })
			s.Spec.ClusterIP = "10.96.0.6"
			return s
		}(), []e{invalid("spec.clusterIPs", "first value must match `clusterIP`")}},
		{"clusterIPs without clusterIP", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.5" })
			s.Spec.ClusterIP = ""
			return s
		}(), []e{invalid("spec.clusterIPs", "must be empty when `clusterIP` is not specified")}},
		{"invalid cluster IP", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" }),
			[]e{invalid("spec.clusterIPs[0]", "must be a valid IP address")}},
		{"two IPv4 cluster IPs", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.5"
			s.Spec.ClusterIPs = []string{"10.96.0.5", "10.96.0.6"}
		}), []e{invalid("spec.clusterIPs", "may specify no more than one IP for each IP family"), duplicate("spec.ipFamilies[1]")}},
		{"family mismatch", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "fd00::5"
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}), []e{invalid("spec.clusterIPs[0]", "expected an IPv4 value as indicated by `ipFamilies[0]`")}},
		{"families", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{"IPv5", "IPv5"}
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
		}), []e{
			notSupported("spec.ipFamilies[0]", `"IPv4", "IPv6"`), notSupported("spec.ipFamilies[1]", ""), duplicate("spec.ipFamilies[1]"),
			invalid("spec.ipFamilyPolicy", "must be RequireDualStack or PreferDualStack when multiple IP families are specified"),
		}},
		{"family policy", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicy("Any")) }),
			[]e{notSupported("spec.ipFamilyPolicy", `"PreferDualStack", "RequireDualStack", "SingleStack"`)}},
		{"external IPs", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"not-an-ip", "127.0.0.1", "0.0.0.0"} }),
			[]e{
				invalid("spec.externalIPs[0]", "must be a valid IP address"),
				invalid("spec.externalIPs[1]", "may not be in the loopback range"),
				invalid("spec.externalIPs[2]", "may not be unspecified (0.0.0.0)"),
			}},
		{"external traffic policy on ClusterIP", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP)
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			return s
		}(), []e{invalid("spec.externalTrafficPolicy", "may only be set for externally-accessible services")}},
		{"external traffic policy value", service(corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Global" }),
			[]e{notSupported("spec.externalTrafficPolicy", `"Cluster", "Local"`)}},
		{"health check port without Local", service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 31000 }),
			[]e{invalid("spec.healthCheckNodePort", "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")}},
		{"internal traffic policy", func() *corev1.Service {
			s := service(corev1.ServiceTypeClusterIP)
			s.Spec.InternalTrafficPolicy = nil
			return s
		}(), []e{required("spec.internalTrafficPolicy")}},
		{"internal traffic policy value", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicy("Node"))
		}), []e{notSupported("spec.internalTrafficPolicy", `"Cluster", "Local"`)}},
		{"load balancer fields on ClusterIP", service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/33"}
			s.Spec.LoadBalancerClass = ptr.To("example.com/lb")
		}), []e{
			forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"),
			forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"),
			invalid("spec.LoadBalancerSourceRanges[0]", ""),
			forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"),
		}},
		{"LoadBalancer without node port choice", func() *corev1.Service {
			s := service(corev1.ServiceTypeLoadBalancer)
			s.Spec.AllocateLoadBalancerNodePorts = nil
			return s
		}(), []e{required("allocateLoadBalancerNodePorts")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateService(tc.svc), tc.want...) })
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	allocated := func(mutate ...func(*corev1.Service)) *corev1.Service {
		s := service(corev1.ServiceTypeClusterIP, append([]func(*corev1.Service){func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.5" }}, mutate...)...)
		s.ObjectMeta = stored(s.ObjectMeta)
		return s
	}
	for _, tc := range []struct {
		name     string
		old, new *corev1.Service
		want     []e
	}{
		{"ports and selector may change", allocated(), func() *corev1.Service {
			s := allocated()
			s.Spec.Ports[0].Port = 8080
			s.Spec.Selector = map[string]string{"app": "api"}
			return s
		}(), nil},
		{"ClusterIP to NodePort", allocated(), func() *corev1.Service {
			s := allocated()
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			return s
		}(), nil},
		{"cluster IP changed", allocated(), allocated(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.6" }),
			[]e{invalid("spec.clusterIPs[0]", "may not change once set")}},
		{"cluster IP dropped", allocated(), func() *corev1.Service {
			s := allocated()
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			return s
		}(), []e{invalid("spec.clusterIPs[0]", "primary clusterIP can not be unset")}},
		{"to ExternalName drops the IP", allocated(), func() *corev1.Service {
			s := allocated()
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone}
			return s
		}(), nil},
		{"family changed", allocated(), allocated(func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }),
			[]e{invalid("spec.ipFamilies[0]", "may not change once set"), invalid("spec.clusterIPs[0]", "expected an IPv6 value")}},
		{"load balancer class changed", func() *corev1.Service {
			s := service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("example.com/a") })
			s.ObjectMeta = stored(s.ObjectMeta)
			return s
		}(), func() *corev1.Service {
			s := service(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("example.com/b") })
			s.ObjectMeta = stored(s.ObjectMeta)
			return s
		}(), []e{invalid("spec.loadBalancerClass", "may not change once set")}},
		{"renamed", allocated(), allocated(func(s *corev1.Service) { s.Name = "api" }),
			[]e{invalid("metadata.name", "field is immutable")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateServiceUpdate(tc.new, tc.old), tc.want...) })
	}

	old := allocated()
	changed := allocated(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.6" })
	expectMessage(t, ValidateServiceUpdate(changed, old), `spec.clusterIPs[0]: Invalid value: ["10.96.0.6"]: may not change once set`)
}

func TestValidateServiceStatusUpdate(t *testing.T) {
	old := service(corev1.ServiceTypeLoadBalancer)
	old.ObjectMeta = stored(old.ObjectMeta)
	s := old.DeepCopy()
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example.com"}}
	expectErrs(t, ValidateServiceStatusUpdate(s, old))
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.300"}, {Hostname: "192.0.2.1"}}
	expectErrs(t, ValidateServiceStatusUpdate(s, old),
		invalid("status.loadBalancer.ingress[0].ip", ""), invalid("status.loadBalancer.ingress[1].hostname", "must be a DNS name, not an IP address"))
}

func TestValidateServiceDualStackUpdate(t *testing.T) {
	dual := func(mutate func(*corev1.Service)) *corev1.Service {
		s := service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.5"
			s.Spec.ClusterIPs = []string{"10.96.0.5", "fd00::5"}
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyPreferDualStack)
		})
		s.ObjectMeta = stored(s.ObjectMeta)
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	single := func(policy corev1.IPFamilyPolicy) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Spec.ClusterIPs = s.Spec.ClusterIPs[:1]
			s.Spec.IPFamilies = s.Spec.IPFamilies[:1]
			s.Spec.IPFamilyPolicy = ptr.To(policy)
		}
	}
	old := dual(nil)
	expectErrs(t, ValidateService(old))
	expectErrs(t, ValidateServiceUpdate(dual(single(corev1.IPFamilyPolicySingleStack)), old))
	expectErrs(t, ValidateServiceUpdate(dual(single(corev1.IPFamilyPolicyPreferDualStack)), old),
		invalid("spec.clusterIPs[0]", "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"),
		invalid("spec.clusterIPs[0]", "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary ipFamily"))

	// Upgrading keeps the primary.
	upgraded := dual(nil)
	expectErrs(t, ValidateServiceUpdate(upgraded, dual(single(corev1.IPFamilyPolicySingleStack))))
	swapped := dual(func(s *corev1.Service) {
		s.Spec.ClusterIP = "fd00::5"
		s.Spec.ClusterIPs = []string{"fd00::5", "10.96.0.5"}
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
	})
	expectErrs(t, ValidateServiceUpdate(swapped, dual(single(corev1.IPFamilyPolicySingleStack))),
		invalid("spec.clusterIPs[0]", "may not change once set"), invalid("spec.ipFamilies[0]", "may not change once set"))

	// A headless service may change families freely.
	headless := service(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "None" })
	headless.ObjectMeta = stored(headless.ObjectMeta)
	v6 := headless.DeepCopy()
	v6.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	expectErrs(t, ValidateServiceUpdate(v6, headless))
}
