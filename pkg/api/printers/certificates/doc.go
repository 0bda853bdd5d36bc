// Package certificates renders the kinds of the certificates.k8s.io API group
// (certificate signing requests, cluster trust bundles, pod certificate
// requests) as the rows of a meta.k8s.io/v1 Table, with
// kube-apiserver's columns, on the helpers of package printers.
//
// Like package printers, it only formats: it must not read storage, build the
// Table, or change the objects it is given.
package certificates
