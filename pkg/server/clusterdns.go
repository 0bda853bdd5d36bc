package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/controller/clusterdns"
	"github.com/skiffhq/skiff/pkg/dns"
)

// clusterDNSAddress is the kube-dns Service's address, for a node told none:
// pods with dnsPolicy ClusterFirst use it. Empty when the cluster has no such
// Service (its pods then use the node's resolvers, as a kubelet without
// --cluster-dns does).
func clusterDNSAddress(ctx context.Context, client kubernetes.Interface, log *slog.Logger) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		svc, err := client.CoreV1().Services(clusterdns.Namespace).Get(ctx, clusterdns.ServiceName, metav1.GetOptions{})
		if err == nil {
			if _, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
				return svc.Spec.ClusterIP
			}
			log.Warn("the kube-dns Service has no cluster IP: pods use the node's resolvers")
			return ""
		}
		if apierrors.IsNotFound(err) {
			// The server makes it before it answers: this cluster has none.
			log.Warn("no kube-dns Service: pods use the node's resolvers")
			return ""
		}
		select {
		case <-ctx.Done():
			log.Warn("no kube-dns Service: pods use the node's resolvers", "err", err)
			return ""
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// dnsAddress is where a node's cluster DNS answers: the first address of
// its pod CIDR, the pod bridge's own, which every pod on the node routes to.
func dnsAddress(podCIDR string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	return p.Masked().Addr().Next(), nil
}

// runClusterDNS serves the cluster's names on this node once it has its pod
// CIDR, then marks the Node so the kube-dns Service's endpoints include it.
func runClusterDNS(ctx context.Context, nc NodeConfig, client kubernetes.Interface, a *agent.Agent, factory informers.SharedInformerFactory, log *slog.Logger) error {
	select {
	case <-a.Ready():
	case <-ctx.Done():
		return nil
	}
	addr, err := dnsAddress(a.PodCIDR())
	if err != nil {
		return err
	}
	s, err := dns.New(factory, dns.Options{
		Domain: nc.ClusterDomain, Listen: []string{netip.AddrPortFrom(addr, 53).String()},
		ResolvConf: a.ResolvConf(), ServiceIP: nc.ClusterDNS, Logger: log,
	})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		return fmt.Errorf("%w (is another DNS server bound to port 53 on every address?)", err)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{clusterdns.NodeAnnotation: addr.String()}}})
	for {
		_, err := client.CoreV1().Nodes().Patch(ctx, a.NodeName(), types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			break
		}
		log.Warn("marking the node as serving cluster DNS", "err", err)
		select {
		case <-ctx.Done():
			return <-done
		case <-time.After(2 * time.Second):
		}
	}
	return <-done
}
