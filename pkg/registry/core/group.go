// Package core declares the kinds of the core API group ("", served at
// /api/v1), one file per kind: pods, replication controllers, services (and
// their ClusterIP and NodePort allocator), namespaces, nodes, endpoints,
// events, config maps, secrets, service accounts, pod templates, and
// persistent volume claims and volumes.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage: what an allocator
// needs to see, it reads through the apiserver.View it is given.
package core

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = corev1.SchemeGroupVersion
)

// Resources returns every kind of the core group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
