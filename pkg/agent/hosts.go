package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// podHostname is the pod's hostname and its fully qualified name (when it
// has a subdomain), as upstream derives them.
func (a *Agent) podHostname(pod *corev1.Pod) (hostname, fqdn string) {
	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if pod.Spec.Subdomain != "" {
		fqdn = fmt.Sprintf("%s.%s.%s.svc.%s", hostname, pod.Spec.Subdomain, pod.Namespace, a.opts.ClusterDomain)
	}
	return hostname, fqdn
}

// hostsFileContent is the kubelet's managed /etc/hosts: localhost, the pod's
// own IPs and name, then the pod's hostAliases.
func (a *Agent) hostsFileContent(pod *corev1.Pod, podIPs []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	hostname, fqdn := a.podHostname(pod)
	for _, ip := range podIPs {
		if fqdn != "" {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", ip, fqdn, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, ha := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// writeHostsFile writes the pod's /etc/hosts (containers mount it).
func (a *Agent) writeHostsFile(pod *corev1.Pod, podIPs []string) error {
	path := a.hostsFile(pod)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	content := a.hostsFileContent(pod, podIPs)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	// Rewritten in place: a container already running has the file's inode
	// bind-mounted, and a rename would leave it with the old one.
	return os.WriteFile(path, content, 0o644)
}
