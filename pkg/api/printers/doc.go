// Package printers renders objects as the rows of a meta.k8s.io/v1 Table, the
// way kube-apiserver does for `kubectl get` (k8s.io/kubernetes/pkg/printers/internalversion):
// the same column names, types, formats, priorities and cell text, so that
// real kubectl prints exactly what it prints against a real cluster.
//
// It holds the printers of the core group's kinds, one function per kind
// (Pod, Service, ...), the Default printer for kinds upstream has none for,
// and what every group's printers are built from (New, NameColumn,
// AgeColumn, Age). Other groups' printers live in subpackages named after
// the group (coordination, discovery, ...). The registry names each kind's
// printer; there is no list of them here.
//
// Cells are always produced as if for `-o wide`: kube-apiserver sends every
// column and kubectl hides the priority-1 ones itself.
//
// This package only formats. It must not read storage, build the Table, or
// change the objects it is given.
package printers
