package server

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Each API server keeps a Lease in kube-system that says it is alive and where
// it answers, labelled as upstream labels its API servers' identity leases; the
// kubernetes Service's endpoints are the addresses of the servers whose lease
// is live, so in-cluster clients reach every server and none that died.
// Upstream keeps the same list through leases in etcd that expire after 15 s.
const (
	identityLabel       = "apiserver.kubernetes.io/identity"
	identityComponent   = "kube-apiserver"
	advertiseAnnotation = "skiff.io/advertise-address" // host:port
)

// serverLeases renews this server's Lease and keeps the kubernetes Service's
// Endpoints and EndpointSlice to the live servers.
type serverLeases struct {
	client   kubernetes.Interface
	identity string
	hostname string // the server's name, its Lease's hostname label
	addr     string // host:port other machines reach this server at
	duration time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// serverLeaseDuration is how long a server that stopped renewing stays in the
// kubernetes Service's endpoints; it renews every third of it.
const serverLeaseDuration = 15 * time.Second

func newServerLeases(client kubernetes.Interface, identity, hostname string, host net.IP, port int, log *slog.Logger) *serverLeases {
	return &serverLeases{
		client: client, identity: identity, hostname: hostname, addr: net.JoinHostPort(host.String(), strconv.Itoa(port)),
		duration: serverLeaseDuration, now: time.Now, log: log,
	}
}

// leaseName is a server's Lease: its identity hashed, as upstream names
// identity leases after a hash of the host.
func leaseName(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return "apiserver-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:26]
}

// run renews and reconciles until ctx ends; then, when other servers live,
// it takes this one out of the endpoints at once rather than after its lease
// runs out. The last server standing leaves its address where it is: a
// server restarting answers there again, and clients retry meanwhile.
func (l *serverLeases) run(ctx context.Context) {
	t := time.NewTicker(l.duration / 3)
	defer t.Stop()
	for {
		if err := l.renew(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("renewing this server's lease", "err", err)
		} else if err := l.reconcile(ctx, ""); err != nil && ctx.Err() == nil {
			l.log.Warn("updating the kubernetes Service's endpoints", "err", err)
		}
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			l.leave(stopCtx)
			return
		case <-t.C:
		}
	}
}

// leave deletes this server's lease, then takes it out of the endpoints: in
// that order, so that another server reconciling meanwhile does not put it
// back for the lease it still sees.
func (l *serverLeases) leave(ctx context.Context) {
	_ = l.client.CoordinationV1().Leases("kube-system").Delete(ctx, leaseName(l.identity), metav1.DeleteOptions{})
	_ = l.reconcile(ctx, l.addr)
}

// labels are its Lease's: upstream's identity label, and the server's name
// as its hostname where a label value can hold it (node names may be longer).
func (l *serverLeases) labels() map[string]string {
	labels := map[string]string{identityLabel: identityComponent}
	if len(validation.IsValidLabelValue(l.hostname)) == 0 {
		labels[corev1.LabelHostname] = l.hostname
	}
	return labels
}

// renew creates or renews this server's Lease.
func (l *serverLeases) renew(ctx context.Context) error {
	leases := l.client.CoordinationV1().Leases("kube-system")
	name := leaseName(l.identity)
	now := metav1.NewMicroTime(l.now())
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      l.labels(),
				Annotations: map[string]string{advertiseAnnotation: l.addr},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(l.identity),
				LeaseDurationSeconds: ptr.To(int32(l.duration / time.Second)),
				AcquireTime:          &now,
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[advertiseAnnotation] = l.addr
	lease.Spec.HolderIdentity = ptr.To(l.identity)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(l.duration / time.Second))
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// live lists the addresses (host:port) of the servers whose lease has not run
// out, but for except, sorted.
func (l *serverLeases) live(ctx context.Context, except string) ([]string, error) {
	list, err := l.client.CoordinationV1().Leases("kube-system").List(ctx, metav1.ListOptions{LabelSelector: identityLabel + "=" + identityComponent})
	if err != nil {
		return nil, err
	}
	now := l.now()
	var addrs []string
	for _, lease := range list.Items {
		addr := lease.Annotations[advertiseAnnotation]
		if addr == "" || addr == except || lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil {
			continue
		}
		if lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second).Before(now) {
			continue
		}
		if !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
		}
	}
	slices.Sort(addrs)
	return addrs, nil
}

// reconcile makes the kubernetes Service's Endpoints and EndpointSlice list the
// live servers (but for except). It leaves them alone when none is left.
func (l *serverLeases) reconcile(ctx context.Context, except string) error {
	addrs, err := l.live(ctx, except)
	if err != nil || len(addrs) == 0 {
		return err
	}
	ep, slices, err := kubernetesEndpoints(addrs)
	if err != nil {
		return err
	}
	if err := l.writeEndpoints(ctx, ep); err != nil {
		return err
	}
	for _, s := range slices {
		if err := l.writeSlice(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// kubernetesEndpoints builds the kubernetes Service's Endpoints and its
// EndpointSlice (one per address family) for the servers at addrs. Servers
// answering on different ports get a subset each.
func kubernetesEndpoints(addrs []string) (*corev1.Endpoints, []*discoveryv1.EndpointSlice, error) {
	byPort := map[int32][]string{}
	var ports []int32
	for _, a := range addrs {
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, nil, fmt.Errorf("server address %q: %w", a, err)
		}
		port, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("server address %q: %w", a, err)
		}
		if _, ok := byPort[int32(port)]; !ok {
			ports = append(ports, int32(port))
		}
		byPort[int32(port)] = append(byPort[int32(port)], host)
	}
	slices.Sort(ports)
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
		Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}}}
	for _, port := range ports {
		sub := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}}}
		for _, h := range byPort[port] {
			sub.Addresses = append(sub.Addresses, corev1.EndpointAddress{IP: h})
		}
		ep.Subsets = append(ep.Subsets, sub)
	}
	// Upstream's one slice, named after the Service, for the first port and
	// the first server's address family (a slice holds one); the few
	// clusters with servers on several ports or families are served by the
	// Endpoints.
	port := ports[0]
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for i, h := range byPort[port] {
		ip := net.ParseIP(h)
		if ip == nil {
			continue
		}
		family := discoveryv1.AddressTypeIPv4
		if ip.To4() == nil {
			family = discoveryv1.AddressTypeIPv6
		}
		if i == 0 {
			slice.AddressType = family
		}
		if family == slice.AddressType {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{h}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
		}
	}
	return ep, []*discoveryv1.EndpointSlice{slice}, nil
}

func (l *serverLeases) writeEndpoints(ctx context.Context, want *corev1.Endpoints) error {
	eps := l.client.CoreV1().Endpoints("default")
	cur, err := eps.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = eps.Create(ctx, want, metav1.CreateOptions{})
		return ignoreExists(err)
	}
	if err != nil {
		return err
	}
	if sameSubsets(cur.Subsets, want.Subsets) {
		return nil
	}
	cur.Subsets = want.Subsets
	_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (l *serverLeases) writeSlice(ctx context.Context, want *discoveryv1.EndpointSlice) error {
	es := l.client.DiscoveryV1().EndpointSlices("default")
	cur, err := es.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = es.Create(ctx, want, metav1.CreateOptions{})
		return ignoreExists(err)
	}
	if err != nil {
		return err
	}
	if cur.AddressType == want.AddressType && slices.Equal(sliceAddrs(cur), sliceAddrs(want)) {
		return nil
	}
	if cur.AddressType != want.AddressType { // immutable: made again
		if err := es.Delete(ctx, cur.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		_, err = es.Create(ctx, want, metav1.CreateOptions{})
		return ignoreExists(err)
	}
	cur.Endpoints, cur.Ports = want.Endpoints, want.Ports
	_, err = es.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

// sameSubsets compares what the subsets say (ready address and port pairs),
// not how they are packed.
func sameSubsets(a, b []corev1.EndpointSubset) bool {
	pairs := func(subs []corev1.EndpointSubset) []string {
		var out []string
		for _, s := range subs {
			for _, a := range s.Addresses {
				for _, p := range s.Ports {
					out = append(out, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
				}
			}
			if len(s.NotReadyAddresses) > 0 {
				out = append(out, "not ready")
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(pairs(a), pairs(b))
}

// sliceAddrs is what a slice says: its ready addresses with its ports.
func sliceAddrs(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, e := range s.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready
		for _, a := range e.Addresses {
			for _, p := range s.Ports {
				out = append(out, fmt.Sprintf("%s/%d/%v", a, ptr.Deref(p.Port, 0), ready))
			}
		}
	}
	slices.Sort(out)
	return out
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
