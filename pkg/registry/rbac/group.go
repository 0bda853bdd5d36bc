// Package rbac declares the kinds of the rbac.authorization.k8s.io API
// group, one file per kind: roles and cluster roles (sets of permissions:
// verbs on resources, or on non-resource URLs cluster-wide) and the role
// bindings and cluster role bindings that grant them to users, groups and
// service accounts.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage. It serves these
// kinds as an API only: they are stored and served, but Skiff's authorizer
// does not read them yet, so a binding grants nothing and a role denies
// nothing; and since no request is authorized by them, upstream's escalation
// check (a writer may only grant what it holds) is not made either. The
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
