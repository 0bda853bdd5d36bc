// Package rbac declares the kinds of the rbac.authorization.k8s.io API
// group, one file per kind: roles and cluster roles (sets of permissions:
// verbs on resources, or on non-resource URLs cluster-wide) and the role
// bindings and cluster role bindings that grant them to users, groups and
// service accounts.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage: the authorizer
// (pkg/auth/rbac) reads these kinds through informers, and the escalation
// check (a writer may only grant what it holds) is wired by the server. The
// rules of aggregated ClusterRoles are kept by the clusterroleaggregation
// controller, not here.
package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = rbacv1.SchemeGroupVersion
)

// Resources returns every kind of the rbac.authorization.k8s.io group, built
// for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
