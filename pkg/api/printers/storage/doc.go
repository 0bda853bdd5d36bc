// Package storage renders the kinds of the storage.k8s.io API group (storage
// classes, volume attributes classes, CSI drivers and nodes, volume
// attachments, storage capacities) as the rows of a meta.k8s.io/v1 Table,
// with kube-apiserver's columns, on the helpers of package printers.
//
// Like package printers, it only formats: it must not read storage, build the
// Table, or change the objects it is given.
package storage
