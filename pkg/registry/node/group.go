// Package node declares the kinds of the node.k8s.io API group, one file per
// kind: runtime classes (which CRI handler runs a pod, and what that adds to
// its resources and placement).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage; applying a
// RuntimeClass to pods is pod admission's work, in package core.
package node

import (
	nodev1 "k8s.io/api/node/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = nodev1.SchemeGroupVersion
)

// Resources returns every kind of the node.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
