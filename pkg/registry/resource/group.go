// Package resource declares the kinds of the resource.k8s.io API group
// (dynamic resource allocation), one file per kind: device classes, resource
// claims and their templates (what pods ask for), resource slices (what
// drivers offer) and device taint rules.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage; allocating
// devices to claims is the scheduler's work.
package resource

import (
	resourcev1 "k8s.io/api/resource/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = resourcev1.SchemeGroupVersion
)

// Resources returns every kind of the resource.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
