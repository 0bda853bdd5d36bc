// Package rbac renders the kinds of the rbac.authorization.k8s.io API group
// (roles, cluster roles and their bindings) as the rows of a meta.k8s.io/v1
// Table, with kube-apiserver's columns, on the helpers of package printers.
//
// Like package printers, it only formats: it must not read storage, build the
// Table, or change the objects it is given.
package rbac
