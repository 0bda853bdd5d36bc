package etcd

// WithPageSize lets the tests read a List in small pages.
var WithPageSize = withPageSize
