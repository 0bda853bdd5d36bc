// Package policy declares the kinds of the policy API group, one file per
// kind: pod disruption budgets (how many of a set of pods voluntary
// disruptions such as drains may take down at once). The eviction they
// guard is the pods' subresource, in the core group.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package policy

import (
	policyv1 "k8s.io/api/policy/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = policyv1.SchemeGroupVersion
)

// Resources returns every kind of the policy group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
