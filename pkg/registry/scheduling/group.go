// Package scheduling declares the kinds of the scheduling.k8s.io API group,
// one file per kind: priority classes (how much a pod matters next to
// others, which the scheduler's preemption reads through pods' spec.priority).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage; giving pods their
// priority is pod admission's work, in package core, and creating the
// system's classes is the server's.
package scheduling

import (
	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = schedulingv1.SchemeGroupVersion
)

// Resources returns every kind of the scheduling.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
