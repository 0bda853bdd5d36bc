// Package registry declares every kind Skiff serves: its names, scope, defaults,
// validation, table columns, selectable fields and subresources, as values the
// generic API server handler reads. It must not serve HTTP or touch storage.
package registry

import (
	"net"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/apiserver"
)

// Options are the cluster settings that shape defaults and allocation.
type Options struct {
	// ServiceCIDR is where ClusterIPs come from (the first is the kubernetes Service).
	ServiceCIDR *net.IPNet
	// NodePortMin and NodePortMax bound NodePort allocation (30000-32767).
	NodePortMin, NodePortMax int
	// NotReadyTolerationSeconds and UnreachableTolerationSeconds are the
	// tolerations every pod gets by default (300 each upstream).
	NotReadyTolerationSeconds, UnreachableTolerationSeconds int64
}

func (o *Options) setDefaults() {
	if o.ServiceCIDR == nil {
		_, o.ServiceCIDR, _ = net.ParseCIDR("10.43.0.0/16")
	}
	if o.NodePortMin == 0 {
		o.NodePortMin, o.NodePortMax = 30000, 32767
	}
	if o.NotReadyTolerationSeconds == 0 {
		o.NotReadyTolerationSeconds = 300
	}
	if o.UnreachableTolerationSeconds == 0 {
		o.UnreachableTolerationSeconds = 300
	}
}

// New returns the registry of every served kind.
func New(opts Options) *apiserver.Registry {
	opts.setDefaults()
	return apiserver.NewRegistry(
		namespaces(),
		pods(opts),
		replicationControllers(),
		services(opts),
		endpoints(),
		nodes(),
		events(),
		configMaps(),
		secrets(),
		serviceAccounts(),
		leases(),
		endpointSlices(),
	)
}

// base fills what every kind shares: names, constructors and its table printer.
func base(gvk schema.GroupVersionKind, plural, singular string, namespaced bool, newObj, newList func() runtime.Object) *apiserver.Resource {
	p := printers.For(plural)
	return &apiserver.Resource{
		GVK: gvk, Name: plural, Singular: singular, Namespaced: namespaced,
		New: newObj, NewList: newList,
		Columns: p.Columns, Cells: p.Cells,
	}
}

var (
	core      = corev1.SchemeGroupVersion
	scaleKind = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	evictKind = policyv1.SchemeGroupVersion.WithKind("Eviction")
)

func podSubresources() []apiserver.Subresource {
	return []apiserver.Subresource{
		{Name: "binding", Kind: core.WithKind("Binding"), Verbs: []string{"create"}},
		{Name: "eviction", Kind: evictKind, Verbs: []string{"create"}},
		{Name: "log", Kind: core.WithKind("Pod"), Verbs: []string{"get"}},
		{Name: "exec", Kind: core.WithKind("PodExecOptions"), Verbs: []string{"create", "get"}},
		{Name: "attach", Kind: core.WithKind("PodAttachOptions"), Verbs: []string{"create", "get"}},
		{Name: "portforward", Kind: core.WithKind("PodPortForwardOptions"), Verbs: []string{"create", "get"}},
		{Name: "proxy", Kind: core.WithKind("PodProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}},
	}
}

func coordination() schema.GroupVersion { return coordinationv1.SchemeGroupVersion }
func discovery() schema.GroupVersion    { return discoveryv1.SchemeGroupVersion }
