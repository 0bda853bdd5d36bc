package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestService(t *testing.T) {
	cluster := ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	single := ptr.To(corev1.IPFamilyPolicySingleStack)
	dual := ptr.To(corev1.IPFamilyPolicyRequireDualStack)
	v4 := []corev1.IPFamily{corev1.IPv4Protocol}
	tcp80 := []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}}
	for _, tc := range []struct {
		name string
		in   corev1.ServiceSpec
		want corev1.ServiceSpec
	}{
		{
			name: "kubectl expose",
			in:   corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
			want: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"}, Ports: tcp80,
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "target port by name and UDP kept",
			in:   corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}}},
			want: corev1.ServiceSpec{
				Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}},
				Type:  corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "ClientIP affinity gets the default timeout",
			in:   corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP, SessionAffinityConfig: &corev1.SessionAffinityConfig{}},
			want: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityClientIP,
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(10800))}},
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "affinity None drops a config",
			in:   corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityNone, SessionAffinityConfig: &corev1.SessionAffinityConfig{}},
			want: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "NodePort",
			in:   corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
			want: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, Ports: tcp80, SessionAffinity: corev1.ServiceAffinityNone,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "LoadBalancer",
			in:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
			want: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, Ports: tcp80, SessionAffinity: corev1.ServiceAffinityNone,
				ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
				AllocateLoadBalancerNodePorts: ptr.To(true),
				InternalTrafficPolicy:         cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "ClusterIP with external IPs is externally accessible",
			in:   corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.1"}},
			want: corev1.ServiceSpec{
				ExternalIPs: []string{"192.0.2.1"}, Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "ExternalName has no IP fields",
			in:   corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
			want: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", SessionAffinity: corev1.ServiceAffinityNone},
		},
		{
			name: "singular clusterIP mirrored, family from the IP",
			in:   corev1.ServiceSpec{ClusterIP: "fd00::10"},
			want: corev1.ServiceSpec{
				ClusterIP: "fd00::10", ClusterIPs: []string{"fd00::10"}, Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol},
			},
		},
		{
			name: "headless with selector",
			in:   corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}},
			want: corev1.ServiceSpec{
				ClusterIP: "None", ClusterIPs: []string{"None"}, Selector: map[string]string{"app": "db"},
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: single, IPFamilies: v4,
			},
		},
		{
			name: "headless without selector asks for both families",
			in:   corev1.ServiceSpec{ClusterIP: "None"},
			want: corev1.ServiceSpec{
				ClusterIP: "None", ClusterIPs: []string{"None"},
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: dual, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			},
		},
		{
			name: "two families imply RequireDualStack",
			in:   corev1.ServiceSpec{IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}},
			want: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster, IPFamilyPolicy: dual, IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Service{Spec: tc.in}
			Service(s)
			mustEqual(t, tc.want, s.Spec)
			again := s.DeepCopy()
			Service(again)
			mustEqual(t, s, again)
		})
	}
}

func TestServiceLoadBalancerIngressIPMode(t *testing.T) {
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}, {Hostname: "lb.example.com"}}
	Service(s)
	mustEqual(t, []corev1.LoadBalancerIngress{{IP: "192.0.2.7", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}, {Hostname: "lb.example.com"}}, s.Status.LoadBalancer.Ingress)
}
