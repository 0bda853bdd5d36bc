package agent

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/dns"
)

// Upstream's limits on a pod's resolver configuration.
const (
	maxDNSNameservers = 3
	maxDNSSearches    = 32
)

// dnsConfig is the pod's resolver configuration by its dnsPolicy, as the
// kubelet computes it: ClusterFirst uses the cluster's nameservers and search
// domains (the node's when the agent knows no cluster DNS), Default the
// node's, None nothing; then the pod's own dnsConfig is merged in.
func (a *Agent) dnsConfig(pod *corev1.Pod) *runtimeapi.DNSConfig {
	host := dns.ReadResolvConf(a.opts.ResolvConf)
	cfg := &runtimeapi.DNSConfig{}
	policy := pod.Spec.DNSPolicy
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	if (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet) && len(a.opts.ClusterDNS) == 0 {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		d := a.opts.ClusterDomain
		cfg.Servers = slices.Clone(a.opts.ClusterDNS)
		cfg.Searches = append([]string{pod.Namespace + ".svc." + d, "svc." + d, d}, host.Searches...)
		cfg.Options = []string{"ndots:5"}
	case corev1.DNSNone:
	default:
		cfg.Servers, cfg.Searches, cfg.Options = host.Servers, host.Searches, host.Options
	}
	if pc := pod.Spec.DNSConfig; pc != nil {
		cfg.Servers = appendUnique(cfg.Servers, pc.Nameservers...)
		cfg.Searches = appendUnique(cfg.Searches, pc.Searches...)
		for _, o := range pc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = slices.DeleteFunc(cfg.Options, func(s string) bool {
				name, _, _ := strings.Cut(s, ":")
				return name == o.Name
			})
			cfg.Options = append(cfg.Options, opt)
		}
	}
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
	}
	if len(cfg.Searches) > maxDNSSearches {
		cfg.Searches = cfg.Searches[:maxDNSSearches]
	}
	return cfg
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}
