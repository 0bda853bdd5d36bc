package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestRuleAllows(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule rbacv1.PolicyRule
		req  *Attributes
		want bool
	}{
		// verbs
		{"verb listed", rule("get,list", "''", "pods"), res("u", "list", "", "pods", "", "ns", ""), true},
		{"verb not listed", rule("get,list", "''", "pods"), res("u", "watch", "", "pods", "", "ns", ""), false},
		{"verb *", rule("*", "''", "pods"), res("u", "deletecollection", "", "pods", "", "ns", ""), true},
		{"verbs are case-sensitive", rule("get", "''", "pods"), res("u", "GET", "", "pods", "", "ns", ""), false},
		{"special verb", rule("impersonate", "''", "serviceaccounts"), res("u", "impersonate", "", "serviceaccounts", "", "ns", "sa"), true},

		// API groups
		{"legacy group", rule("get", "''", "pods"), res("u", "get", "", "pods", "", "ns", "p"), true},
		{"legacy rule, other group", rule("get", "''", "deployments"), res("u", "get", "apps", "deployments", "", "ns", "d"), false},
		{"named group", rule("get", "apps,extensions", "deployments"), res("u", "get", "apps", "deployments", "", "ns", "d"), true},
		{"group *", rule("get", "*", "deployments"), res("u", "get", "apps", "deployments", "", "ns", "d"), true},
		{"no groups", rule("get", "", "pods"), res("u", "get", "", "pods", "", "ns", "p"), false},

		// resources and subresources
		{"resource", rule("get", "''", "pods,services"), res("u", "get", "", "services", "", "ns", "s"), true},
		{"other resource", rule("get", "''", "pods"), res("u", "get", "", "secrets", "", "ns", "s"), false},
		{"resource *", rule("get", "''", "*"), res("u", "get", "", "secrets", "", "ns", "s"), true},
		{"resource * covers subresources", rule("get", "''", "*"), res("u", "get", "", "pods", "log", "ns", "p"), true},
		{"resource does not cover its subresources", rule("get", "''", "pods"), res("u", "get", "", "pods", "log", "ns", "p"), false},
		{"resource/subresource", rule("get", "''", "pods/log"), res("u", "get", "", "pods", "log", "ns", "p"), true},
		{"resource/subresource is not the resource", rule("get", "''", "pods/log"), res("u", "get", "", "pods", "", "ns", "p"), false},
		{"other subresource", rule("get", "''", "pods/log"), res("u", "get", "", "pods", "exec", "ns", "p"), false},
		{"subresource of another resource", rule("get", "''", "pods/log"), res("u", "get", "", "podsx", "log", "ns", "p"), false},
		{"*/subresource", rule("update", "apps", "*/scale"), res("u", "update", "apps", "deployments", "scale", "ns", "d"), true},
		{"*/subresource is not the resource", rule("update", "apps", "*/scale"), res("u", "update", "apps", "deployments", "", "ns", "d"), false},
		{"*/subresource, other subresource", rule("update", "apps", "*/scale"), res("u", "update", "apps", "deployments", "status", "ns", "d"), false},
		{"resource/* is no wildcard", rule("get", "''", "pods/*"), res("u", "get", "", "pods", "log", "ns", "p"), false},
		{"*/* is no wildcard", rule("get", "''", "*/*"), res("u", "get", "", "pods", "log", "ns", "p"), false},
		{"a one-letter resource and */sub", rule("get", "''", "*/log"), res("u", "get", "", "x", "log", "ns", "p"), true},

		// resourceNames
		{"name listed", rule("get,update", "''", "configmaps", "a", "b"), res("u", "update", "", "configmaps", "", "ns", "b"), true},
		{"name not listed", rule("get", "''", "configmaps", "a"), res("u", "get", "", "configmaps", "", "ns", "c"), false},
		{"names never allow a list", rule("get,list", "''", "configmaps", "a"), res("u", "list", "", "configmaps", "", "ns", ""), false},
		{"names never allow a create", rule("create", "''", "configmaps", "a"), res("u", "create", "", "configmaps", "", "ns", ""), false},
		{"no names allow any", rule("get", "''", "configmaps"), res("u", "get", "", "configmaps", "", "ns", "anything"), true},
		// As upstream, an empty name in the list is a name like any other.
		{"an empty name matches a request without one", rule("list", "''", "configmaps", ""), res("u", "list", "", "configmaps", "", "ns", ""), true},
		{"name and subresource", rule("get", "''", "pods/log", "p"), res("u", "get", "", "pods", "log", "ns", "p"), true},

		// non-resource URLs
		{"path", urlRule("get", "/healthz,/version"), path("u", "get", "/version"), true},
		{"other path", urlRule("get", "/healthz"), path("u", "get", "/livez"), false},
		{"path, other verb", urlRule("get", "/healthz"), path("u", "post", "/healthz"), false},
		{"path *", urlRule("get", "*"), path("u", "get", "/anything/at/all"), true},
		{"prefix*", urlRule("get", "/apis/*"), path("u", "get", "/apis/apps/v1"), true},
		{"prefix* and the bare prefix", urlRule("get", "/apis/*"), path("u", "get", "/apis/"), true},
		{"prefix* is a string prefix", urlRule("get", "/apis/*"), path("u", "get", "/apis"), false},
		{"prefix* without a slash", urlRule("get", "/healthz*"), path("u", "get", "/healthzfoo"), true},
		{"prefix with several stars", urlRule("get", "/api**"), path("u", "get", "/apis"), true},
		{"a star inside is literal", urlRule("get", "/a/*/b"), path("u", "get", "/a/x/b"), false},

		// resource rules and path rules do not mix
		{"resource rule, path request", rule("*", "*", "*"), path("u", "get", "/healthz"), false},
		{"path rule, resource request", urlRule("*", "*"), res("u", "get", "", "pods", "", "ns", "p"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RuleAllows(tc.req, &tc.rule); got != tc.want {
				t.Errorf("RuleAllows(%+v, %+v) = %v, want %v", tc.req, tc.rule, got, tc.want)
			}
		})
	}
}
