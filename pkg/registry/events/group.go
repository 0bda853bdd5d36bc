// Package events declares the kinds of the events.k8s.io API group: its
// Events, which are core/v1 Events under other field names, served from
// their storage as upstream serves them (a view, see apiserver.ViewOf).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package events

import (
	eventsv1 "k8s.io/api/events/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = eventsv1.SchemeGroupVersion
)

// Resources returns every kind of the events.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
