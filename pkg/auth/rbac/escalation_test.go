package rbac

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		name             string
		owner, requested []rbacv1.PolicyRule
		uncovered        []rbacv1.PolicyRule
	}{
		{"everything covers everything",
			[]rbacv1.PolicyRule{rule("*", "*", "*"), urlRule("*", "*")},
			[]rbacv1.PolicyRule{rule("get,escalate", "rbac.authorization.k8s.io", "roles", "r"), urlRule("get", "/metrics")}, nil},
		{"a verb missing",
			[]rbacv1.PolicyRule{rule("get", "''", "pods")},
			[]rbacv1.PolicyRule{rule("get,list", "''", "pods")},
			[]rbacv1.PolicyRule{rule("list", "''", "pods")}},
		{"verbs are covered across rules",
			[]rbacv1.PolicyRule{rule("get", "''", "pods"), rule("list", "''", "pods")},
			[]rbacv1.PolicyRule{rule("get,list", "''", "pods")}, nil},
		{"* is a verb of its own",
			[]rbacv1.PolicyRule{rule("get,list,watch,create,update,patch,delete,deletecollection", "''", "pods")},
			[]rbacv1.PolicyRule{rule("*", "''", "pods")},
			[]rbacv1.PolicyRule{rule("*", "''", "pods")}},
		{"broken down to one group, resource and verb",
			[]rbacv1.PolicyRule{rule("get", "apps", "deployments")},
			[]rbacv1.PolicyRule{rule("get,delete", "apps,extensions", "deployments")},
			[]rbacv1.PolicyRule{rule("delete", "apps", "deployments"), rule("get", "extensions", "deployments"), rule("delete", "extensions", "deployments")}},
		{"names cover only themselves",
			[]rbacv1.PolicyRule{rule("get", "''", "secrets", "a")},
			[]rbacv1.PolicyRule{rule("get", "''", "secrets", "a", "b")},
			[]rbacv1.PolicyRule{rule("get", "''", "secrets", "b")}},
		{"names do not cover every name",
			[]rbacv1.PolicyRule{rule("get", "''", "secrets", "a")},
			[]rbacv1.PolicyRule{rule("get", "''", "secrets")},
			[]rbacv1.PolicyRule{rule("get", "''", "secrets")}},
		{"no names cover every name",
			[]rbacv1.PolicyRule{rule("get", "''", "secrets")},
			[]rbacv1.PolicyRule{rule("get", "''", "secrets", "a")}, nil},
		{"*/subresource covers that subresource",
			[]rbacv1.PolicyRule{rule("update", "apps", "*/scale")},
			[]rbacv1.PolicyRule{rule("update", "apps", "deployments/scale,deployments")},
			[]rbacv1.PolicyRule{rule("update", "apps", "deployments")}},
		{"a resource does not cover its subresources",
			[]rbacv1.PolicyRule{rule("get", "''", "pods")},
			[]rbacv1.PolicyRule{rule("get", "''", "pods/log")},
			[]rbacv1.PolicyRule{rule("get", "''", "pods/log")}},
		{"paths by prefix",
			[]rbacv1.PolicyRule{urlRule("get", "/apis/*")},
			[]rbacv1.PolicyRule{urlRule("get", "/apis/apps,/healthz")},
			[]rbacv1.PolicyRule{urlRule("get", "/healthz")}},
		{"a path does not cover what it prefixes",
			[]rbacv1.PolicyRule{urlRule("get", "/healthz")},
			[]rbacv1.PolicyRule{urlRule("get", "/healthz/etcd")},
			[]rbacv1.PolicyRule{urlRule("get", "/healthz/etcd")}},
		{"nothing covers something",
			nil,
			[]rbacv1.PolicyRule{rule("get", "''", "pods")},
			[]rbacv1.PolicyRule{rule("get", "''", "pods")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, uncovered := Covers(tc.owner, tc.requested)
			if ok != (len(tc.uncovered) == 0) || !slices.EqualFunc(uncovered, tc.uncovered, ruleEqual) {
				t.Errorf("Covers = %v, %v\nwant uncovered %v", ok, uncovered, tc.uncovered)
			}
		})
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	a := authorizerWith(
		clusterRole("viewer", rule("get,list", "''", "pods,secrets")),
		nsBinding("ns1", "devs-view", "ClusterRole:viewer", "Group:devs"),
		nsBinding("ns1", "dangling", "Role:gone", "User:alice"),
	)
	grant := []rbacv1.PolicyRule{rule("get,list,delete", "''", "pods"), rule("get,watch,update", "''", "secrets"), urlRule("get", "/metrics")}
	err := a.ConfirmNoEscalation("alice", []string{"devs"}, "ns1", grant)
	want := `user "alice" (groups=["devs"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}
{APIGroups:[""], Resources:["secrets"], Verbs:["watch" "update"]}
{NonResourceURLs:["/metrics"], Verbs:["get"]}; resolution errors: [role.rbac.authorization.k8s.io "gone" not found]`
	if err == nil || err.Error() != want {
		t.Errorf("ConfirmNoEscalation =\n%v\nwant\n%s", err, want)
	}
	if err := a.ConfirmNoEscalation("alice", []string{"devs"}, "ns1", nil); err != nil {
		t.Errorf("granting nothing: %v", err)
	}
	if err := a.ConfirmNoEscalation("bob", []string{"devs"}, "ns1", []rbacv1.PolicyRule{rule("list", "''", "secrets")}); err != nil {
		t.Errorf("granting what one holds: %v", err)
	}
	if err := a.ConfirmNoEscalation("bob", []string{"devs"}, "ns2", []rbacv1.PolicyRule{rule("list", "''", "secrets")}); err == nil {
		t.Errorf("granting in a namespace where one holds nothing: no error")
	}
}

func TestAggregateRules(t *testing.T) {
	toView := map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}
	toEdit := map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
	labelled := func(r *rbacv1.ClusterRole, labels map[string]string) *rbacv1.ClusterRole {
		r.Labels = labels
		return r
	}
	view := labelled(clusterRole("view", rule("stale", "''", "stale")), toEdit)
	view.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: toView}}}
	edit := clusterRole("edit")
	edit.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: toEdit}, {MatchLabels: toView}}}
	all := []*rbacv1.ClusterRole{
		view, edit,
		labelled(clusterRole("z-extra", rule("get", "example.com", "widgets")), toView),
		labelled(clusterRole("a-pods", rule("get", "''", "pods"), rule("get", "example.com", "widgets")), toView),
		labelled(clusterRole("m-writes", rule("create", "''", "pods")), toEdit),
		clusterRole("unlabelled", rule("*", "*", "*")),
	}

	got, aggregated, err := AggregateRules(view, all)
	want := []rbacv1.PolicyRule{rule("get", "''", "pods"), rule("get", "example.com", "widgets")}
	if err != nil || !aggregated || !slices.EqualFunc(got, want, ruleEqual) {
		t.Errorf("AggregateRules(view) = %v, %v, %v; want %v", got, aggregated, err, want)
	}
	// edit selects view too (by its label), whose own stale rules count, as
	// upstream's controller reads the stored rules; then its own selectors'.
	got, _, _ = AggregateRules(edit, all)
	want = []rbacv1.PolicyRule{rule("create", "''", "pods"), rule("stale", "''", "stale"), rule("get", "''", "pods"), rule("get", "example.com", "widgets")}
	if !slices.EqualFunc(got, want, ruleEqual) {
		t.Errorf("AggregateRules(edit) = %v; want %v", got, want)
	}
	if _, aggregated, _ := AggregateRules(all[2], all); aggregated {
		t.Errorf("a role without an aggregationRule is aggregated")
	}
	bad := clusterRole("bad")
	bad.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"no good/at/all": "x"}}}}
	if _, _, err := AggregateRules(bad, all); err == nil {
		t.Errorf("a selector that does not parse: no error")
	}
}
