// Package bootstrap is upstream's default RBAC policy as data: the
// ClusterRoles, ClusterRoleBindings, and kube-system and kube-public Roles and
// RoleBindings that kube-apiserver ensures at every start (cluster-admin,
// admin/edit/view and their aggregation, system:discovery and the other
// system: roles, one role per kube-controller-manager controller, and the
// bindings of each to the users, groups and service accounts upstream names),
// with upstream's bootstrapping label and autoupdate annotation; and the
// reconciliation upstream applies to them on start, as pure functions.
//
// The data is Kubernetes v1.37.2's with its default feature gates (see
// gen.go). It must not be edited by hand, and the package must not talk to
// the API: the caller reads what exists, reconciles, and writes.
package bootstrap
