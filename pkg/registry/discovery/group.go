// Package discovery declares the kinds of the discovery.k8s.io API group, one
// file per kind: endpoint slices.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package discovery

import (
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = discoveryv1.SchemeGroupVersion
)

// Resources returns every kind of the discovery.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
