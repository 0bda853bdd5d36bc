// Package storage declares the kinds of the storage.k8s.io API group, one
// file per kind: storage classes and volume attributes classes (how volumes
// are provisioned and modified), CSI drivers and nodes (which drivers exist
// and where), volume attachments and storage capacities (what drivers report).
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage; provisioning,
// attaching and scheduling by capacity are controllers' and the scheduler's
// work.
package storage

import (
	storagev1 "k8s.io/api/storage/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = storagev1.SchemeGroupVersion
)

// Resources returns every kind of the storage.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
