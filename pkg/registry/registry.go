// Package registry composes the kinds Skiff serves, one package per API group
// (core, coordination, discovery, ...), into the registry the generic API
// server handler reads. Each group package declares its kinds, one file each:
// names, scope, defaults, validation, table columns, selectable fields and
// subresources. This package lists groups, never kinds.
//
// It must not serve HTTP or touch storage.
package registry

import (
	"net"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/apps"
	"github.com/skiffhq/skiff/pkg/registry/authentication"
	"github.com/skiffhq/skiff/pkg/registry/authorization"
	"github.com/skiffhq/skiff/pkg/registry/batch"
	"github.com/skiffhq/skiff/pkg/registry/certificates"
	"github.com/skiffhq/skiff/pkg/registry/coordination"
	"github.com/skiffhq/skiff/pkg/registry/core"
	"github.com/skiffhq/skiff/pkg/registry/discovery"
	"github.com/skiffhq/skiff/pkg/registry/events"
	"github.com/skiffhq/skiff/pkg/registry/kind"
	"github.com/skiffhq/skiff/pkg/registry/networking"
	"github.com/skiffhq/skiff/pkg/registry/node"
	"github.com/skiffhq/skiff/pkg/registry/policy"
	"github.com/skiffhq/skiff/pkg/registry/rbac"
	"github.com/skiffhq/skiff/pkg/registry/resource"
	"github.com/skiffhq/skiff/pkg/registry/scheduling"
	"github.com/skiffhq/skiff/pkg/registry/storage"
)

// Options are the cluster settings that shape defaults and allocation.
type Options = kind.Options

// groups are the served API groups, core first: discovery lists the groups in
// this order.
var groups = []func(kind.Options) []*apiserver.Resource{
	core.Resources,
	apps.Resources,
	events.Resources,
	authentication.Resources,
	authorization.Resources,
	batch.Resources,
	certificates.Resources,
	networking.Resources,
	policy.Resources,
	rbac.Resources,
	storage.Resources,
	scheduling.Resources,
	coordination.Resources,
	node.Resources,
	discovery.Resources,
	resource.Resources,
}

// New returns the registry of every served kind.
func New(opts Options) *apiserver.Registry {
	var all []*apiserver.Resource
	for _, group := range groups {
		all = append(all, group(opts)...)
	}
	return apiserver.NewRegistry(all...)
}

// FirstServiceIP is the address the kubernetes Service gets: the first in the range.
func FirstServiceIP(cidr *net.IPNet) net.IP { return core.FirstServiceIP(cidr) }
