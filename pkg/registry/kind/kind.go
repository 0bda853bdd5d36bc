// Package kind is what every API group's registry package shares: the cluster
// Options that shape defaults and allocation, Base (the fields every kind's
// definition starts from), the Group table each kind's file adds itself to, and
// the subresources several groups serve alike (scale).
//
// It must not declare a kind itself, and, like the group packages, must not
// serve HTTP or touch storage.
package kind

import (
	"fmt"
	"net"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
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
	// ServiceAccountAdmission runs upstream's ServiceAccount admission on
	// pod create (each pod runs as an existing account and gets its API
	// credentials), as every Skiff server does. Off, pods are admitted
	// without accounts: for an API server run without the service account
	// controller, in tests of the server alone.
	ServiceAccountAdmission bool
}

// WithDefaults fills what was left unset with upstream's defaults.
func (o Options) WithDefaults() Options {
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
	return o
}

// Base fills what every kind shares: names, constructors and its table
// printer (printers.Default for a kind upstream prints no columns for).
func Base(gvk schema.GroupVersionKind, plural, singular string, namespaced bool,
	newObj, newList func() runtime.Object, p printers.Printer) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: gvk, Name: plural, Singular: singular, Namespaced: namespaced,
		New: newObj, NewList: newList,
		Columns: p.Columns, Cells: p.Cells,
	}
}

// ScaleSubresource is the scale subresource (autoscaling/v1 Scale) of a kind
// with a replica count; the kind says how to reach it in Resource.Scale.
func ScaleSubresource() apiserver.Subresource {
	return apiserver.Subresource{
		Name:  "scale",
		Kind:  autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
		Verbs: []string{"get", "patch", "update"},
	}
}

// Maker builds one kind's definition for a cluster's options.
type Maker func(Options) *apiserver.Resource

// Group is the table of one API group's kinds. Each kind's file adds its Maker
// from an init function, so that adding a kind is adding a file.
type Group struct {
	makers []Maker
}

// Add registers a kind. It is meant for init functions only.
func (g *Group) Add(m Maker) { g.makers = append(g.makers, m) }

// Resources builds every kind of the group afresh for opts (unset options take
// their defaults), ordered by plural name so that the order never depends on
// how the files were compiled. Two kinds with one plural are a programming
// error and panic.
func (g *Group) Resources(opts Options) []*apiserver.Resource {
	opts = opts.WithDefaults()
	out := make([]*apiserver.Resource, 0, len(g.makers))
	for _, m := range g.makers {
		out = append(out, m(opts))
	}
	slices.SortFunc(out, func(a, b *apiserver.Resource) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name && out[i].GVK.GroupVersion() == out[i-1].GVK.GroupVersion() {
			panic(fmt.Sprintf("registry: %s/%s is declared twice", out[i].GroupVersion(), out[i].Name))
		}
	}
	return out
}
