// Package coordination declares the kinds of the coordination.k8s.io API
// group, one file per kind: leases (node heartbeats, leader election).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package coordination

import (
	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = coordinationv1.SchemeGroupVersion
)

// Resources returns every kind of the coordination.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
