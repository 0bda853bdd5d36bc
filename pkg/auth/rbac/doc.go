// Package rbac is the RBAC authorizer: it decides requests from Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings (k8s.io/api/rbac/v1)
// with the semantics of upstream's RBAC authorizer, and answers the
// questions the RBAC API itself asks of them: which rules a user holds in a
// namespace (SelfSubjectRulesReview), whether one set of rules covers another
// (escalation checks), and what an aggregated ClusterRole's rules are.
//
// An Authorizer is an index fed with the four kinds as they change (from
// informers or the API server's watch cache). It indexes bindings by the
// subjects they name and resolves their role references as roles come and
// go, so a decision looks only at the bindings of the requesting user's name
// and groups: it takes microseconds and allocates nothing however many
// bindings the cluster holds.
//
// RBAC only grants: a decision is Allow or no opinion, never Deny, so other
// authorizers of a chain may still allow. The package must not read the API
// or storage itself, must not deny, and must not modify the objects it is
// given (they are informers' shared copies).
package rbac
