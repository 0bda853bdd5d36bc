package server

import (
	"testing"
)

// TestClusterDNSSettings: --cluster-dns defaults to the 10th address of the
// Service range and must be an IPv4 address the range can give a Service;
// --cluster-domain defaults to cluster.local and must be a DNS name. Errors
// name the flag.
func TestClusterDNSSettings(t *testing.T) {
	for _, tc := range []struct {
		name                            string
		serviceCIDR, clusterDNS, domain string
		wantDNS, wantDomain, wantErr    string
	}{
		{name: "defaults", wantDNS: "10.43.0.10", wantDomain: "cluster.local"},
		{name: "another range", serviceCIDR: "10.96.0.0/12", wantDNS: "10.96.0.10", wantDomain: "cluster.local"},
		{name: "a /28 still has a 10th address", serviceCIDR: "192.168.7.16/28", wantDNS: "192.168.7.26", wantDomain: "cluster.local"},
		{name: "given", clusterDNS: "10.43.200.53", domain: "skiff.internal.", wantDNS: "10.43.200.53", wantDomain: "skiff.internal"},
		{name: "outside the range", clusterDNS: "10.44.0.10",
			wantErr: `--cluster-dns "10.44.0.10": not inside --service-cidr 10.43.0.0/16`},
		{name: "not an address", clusterDNS: "dns",
			wantErr: `--cluster-dns "dns": not an IPv4 address`},
		{name: "IPv6", serviceCIDR: "fd00:43::/112", clusterDNS: "fd00:43::a",
			wantErr: `--cluster-dns "fd00:43::a": not an IPv4 address`},
		// An IPv6 range runs without cluster DNS unless told an address.
		{name: "IPv6 range, no default", serviceCIDR: "fd00:43::/112", wantDNS: "", wantDomain: "cluster.local"},
		{name: "the kubernetes Service's", clusterDNS: "10.43.0.1",
			wantErr: `--cluster-dns "10.43.0.1": the kubernetes Service's address`},
		{name: "broadcast", clusterDNS: "10.43.255.255",
			wantErr: `--cluster-dns "10.43.255.255": the network or broadcast address of --service-cidr 10.43.0.0/16`},
		{name: "range too small for the default", serviceCIDR: "10.43.0.0/29",
			wantErr: `--cluster-dns (by default the 10th address of --service-cidr 10.43.0.0/29, 10.43.0.10): not inside --service-cidr 10.43.0.0/29`},
		{name: "bad domain", domain: "Cluster_Local",
			wantErr: `--cluster-domain "Cluster_Local": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{DataDir: t.TempDir(), ServiceCIDR: tc.serviceCIDR, ClusterDNS: tc.clusterDNS, ClusterDomain: tc.domain})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ip := ""
			if s.cfg.ClusterDNSIP() != nil {
				ip = s.cfg.ClusterDNSIP().String()
			}
			if s.cfg.ClusterDNS != tc.wantDNS || ip != tc.wantDNS || s.cfg.ClusterDomain != tc.wantDomain {
				t.Errorf("cluster DNS %s (IP %v), domain %s; want %s, %s", s.cfg.ClusterDNS, s.cfg.ClusterDNSIP(), s.cfg.ClusterDomain, tc.wantDNS, tc.wantDomain)
			}
		})
	}
}
