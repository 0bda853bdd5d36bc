package apiserver

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestForKey: a storage key finds the kind that owns it, a group's kind
// before a core kind whose name is the group's, and nothing for keys of kinds
// not served.
func TestForKey(t *testing.T) {
	kind := func(group, name string) *Resource {
		return &Resource{GVK: schema.GroupVersionKind{Group: group, Version: "v1", Kind: name}, Name: name}
	}
	pods, deployments, apps := kind("", "pods"), kind("apps", "deployments"), kind("", "apps")
	reg := NewRegistry(pods, deployments, apps)
	for key, want := range map[string]*Resource{
		"/registry/pods/default/web":             pods,
		"/registry/apps/deployments/default/web": deployments,
		"/registry/apps/other":                   apps,
		"/registry/apps/statefulsets/ns/x":       apps, // no such kind served: the core one holds the key
		"/registry/leases/x":                     nil,
		"/other/pods/x":                          nil,
		"/registry/pods":                         nil,
	} {
		if got := reg.forKey(key); got != want {
			t.Errorf("forKey(%q) = %v, want %v", key, got, want)
		}
	}
}
