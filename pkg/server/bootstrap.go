package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	schedulingvalidation "github.com/skiffhq/skiff/pkg/api/validation/scheduling"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/controller/clusterdns"
	"github.com/skiffhq/skiff/pkg/controller/rootcacert"
	"github.com/skiffhq/skiff/pkg/registry"
)

// SystemNamespaces exist in every cluster from the first start.
var SystemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrap ensures what upstream's apiserver ensures on start: the system
// namespaces, the kubernetes Service with the first service IP, its Endpoints, and a
// default ServiceAccount in each system namespace, the system PriorityClasses and
// the default ServiceCIDR; and the kube-dns Service of cluster DNS (see
// dnsService). Existing objects are kept. host
// is the address other machines reach the API at; nil when there is none.
//
// rootCA, when set (the control loops run), is also published as kube-root-ca.crt
// in each system namespace. Its publisher would do that a moment later; doing it
// before the server reports ready means a client's first informer finds the
// system namespaces settled.
func bootstrap(ctx context.Context, api *apiserver.Server, reg *apiserver.Registry, serviceNet *net.IPNet, host net.IP, port int, rootCA []byte, dns *dnsService) error {
	ensureIn := func(gv, resource, namespace string, obj runtime.Object) error {
		res := reg.Lookup(gv, resource)
		if m, ok := obj.(metav1.Object); ok && api.Exists(res, namespace, m.GetName()) {
			return nil
		}
		_, err := api.Create(ctx, res, namespace, obj)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s in %q: %w", resource, namespace, err)
		}
		return nil
	}
	ensure := func(resource, namespace string, obj runtime.Object) error {
		return ensureIn("v1", resource, namespace, obj)
	}
	for _, ns := range SystemNamespaces {
		if err := ensure("namespaces", "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
		if err := ensure("serviceaccounts", ns, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
			return err
		}
		if rootCA != nil {
			if err := ensure("configmaps", ns, rootcacert.ConfigMap(rootCA)); err != nil {
				return err
			}
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: registry.FirstServiceIP(serviceNet).String(),
			Ports: []corev1.ServicePort{{
				Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port)),
			}},
		},
	}
	if err := ensure("services", "default", svc); err != nil {
		return err
	}
	if err := dns.ensure(ctx, api, reg); err != nil {
		return err
	}
	for _, pc := range schedulingvalidation.SystemPriorityClasses() {
		if err := ensureIn("scheduling.k8s.io/v1", "priorityclasses", "", pc); err != nil {
			return err
		}
	}
	// The service range, as upstream's API server publishes it.
	cidr := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{serviceNet.String()}}}
	if err := ensureIn("networking.k8s.io/v1", "servicecidrs", "", cidr); err != nil {
		return err
	}
	if host == nil {
		return nil
	}
	ep, endpointSlices, err := kubernetesEndpoints([]string{net.JoinHostPort(host.String(), strconv.Itoa(port))})
	if err != nil {
		return err
	}
	if err := ensure("endpoints", "default", ep); err != nil {
		return err
	}
	// Service proxies read EndpointSlices; upstream's apiserver keeps this one
	// itself (the kubernetes Service has no selector for a controller to follow).
	for _, slice := range endpointSlices {
		if err := ensureIn("discovery.k8s.io/v1", "endpointslices", "default", slice); err != nil {
			return err
		}
	}
	return nil
}

// dnsService keeps the Service pods resolve names through,
// kube-system/kube-dns, at the cluster DNS address; its endpoints are the
// nodes' DNS servers (package clusterdns). When another Service holds that
// address (a cluster made before cluster DNS, or with another --cluster-dns)
// the server starts all the same, with a warning: only names do not resolve
// until the address is freed.
type dnsService struct {
	ip  string
	log *slog.Logger
	// warned names the Service last warned about, so that the reconcile
	// loop, which tries again every round, does not repeat the warning.
	warned string
}

func (d *dnsService) ensure(ctx context.Context, api *apiserver.Server, reg *apiserver.Registry) error {
	res := reg.Lookup("v1", "services")
	if d.ip == "" || api.Exists(res, clusterdns.Namespace, clusterdns.ServiceName) {
		return nil
	}
	_, err := api.Create(ctx, res, clusterdns.Namespace, clusterdns.Service(d.ip))
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		d.warned = ""
		return nil
	case apierrors.IsInvalid(err):
		if holder := serviceHolding(api, d.ip); holder != "" {
			if holder != d.warned {
				d.log.Warn("cluster DNS: another Service holds the kube-dns Service's address; pods will not resolve names until it is freed or --cluster-dns names another",
					"address", d.ip, "service", holder)
				d.warned = holder
			}
			return nil
		}
	}
	return fmt.Errorf("services in %q: %w", clusterdns.Namespace, err)
}

// serviceHolding names the Service whose ClusterIP is ip, if any.
func serviceHolding(api *apiserver.Server, ip string) string {
	for _, o := range api.List("v1", "services") {
		svc, ok := o.(*corev1.Service)
		if ok && (svc.Spec.ClusterIP == ip || slices.Contains(svc.Spec.ClusterIPs, ip)) {
			return svc.Namespace + "/" + svc.Name
		}
	}
	return ""
}

// reconcileBootstrap re-creates the bootstrap objects when someone deletes them
// (`kubectl delete all --all` deletes the kubernetes Service; upstream's
// apiserver puts it back the same way).
func reconcileBootstrap(ctx context.Context, every time.Duration, ensure func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ensure(ctx); err != nil && ctx.Err() == nil {
				log.Warn("re-creating bootstrap objects", "err", err)
			}
		}
	}
}
