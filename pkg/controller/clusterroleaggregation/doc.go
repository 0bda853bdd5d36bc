// Package clusterroleaggregation is the ClusterRole aggregation controller,
// as upstream's in kube-controller-manager: a ClusterRole with an
// aggregationRule gets as its rules the union of the rules of every other
// ClusterRole its clusterRoleSelectors select, taken selector by selector,
// role by role in name order and rule by rule, each rule once; and it is
// rewritten when a selected role changes, appears or goes.
//
// It works only through the API (a client-go informer on ClusterRoles, a
// lister and a workqueue), so it can also run out of process. It must not
// write a ClusterRole that has no aggregationRule, nor one whose rules are
// already the union, and it changes nothing but the rules. It grants no
// permission itself: what the rules allow is the authorizer's business.
package clusterroleaggregation
