// Package batch declares the kinds of the batch API group, one file per kind:
// jobs (pods run to completion) and cron jobs (jobs made on a schedule).
// Nothing here runs them: that is the job and cron job controllers' work.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage.
package batch

import (
	batchv1 "k8s.io/api/batch/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = batchv1.SchemeGroupVersion
)

// Resources returns every kind of the batch group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
