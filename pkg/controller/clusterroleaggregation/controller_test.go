package clusterroleaggregation

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

func rule(verb, resource string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{""}, Resources: []string{resource}}
}

func role(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
}

func aggregated(name string, labels map[string]string, selectors ...map[string]string) *rbacv1.ClusterRole {
	r := role(name, labels)
	r.AggregationRule = &rbacv1.AggregationRule{}
	for _, s := range selectors {
		r.AggregationRule.ClusterRoleSelectors = append(r.AggregationRule.ClusterRoleSelectors, metav1.LabelSelector{MatchLabels: s})
	}
	return r
}

var (
	toView = map[string]string{"aggregate-to-view": "true"}
	toEdit = map[string]string{"aggregate-to-edit": "true"}
)

func start(t *testing.T, roles ...*rbacv1.ClusterRole) (*fake.Clientset, *Controller) {
	t.Helper()
	client := fake.NewClientset()
	for _, r := range roles {
		if _, err := client.RbacV1().ClusterRoles().Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{})
	controllertest.Run(t, factory, c)
	return client, c
}

// hasRules waits for name's rules to be want, in order.
func hasRules(t *testing.T, client *fake.Clientset, name string, want ...rbacv1.PolicyRule) {
	t.Helper()
	controllertest.Eventually(t, name+"'s rules", func() (bool, string) {
		r, err := client.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return equality.Semantic.DeepEqual(r.Rules, want), fmt.Sprint(r.Rules)
	})
}

// TestAggregates: an aggregated role gets the rules of the roles its
// selectors select, selector by selector, roles in name order, each rule
// once, itself left out; and follows them as they change, come and go.
func TestAggregates(t *testing.T) {
	ctx := context.Background()
	getPods, listPods, getSvcs, patchPods := rule("get", "pods"), rule("list", "pods"), rule("get", "services"), rule("patch", "pods")
	client, _ := start(t,
		role("b-viewer", toView, getPods, listPods),
		role("a-viewer", toView, getSvcs, getPods),
		role("editor", toEdit, patchPods, getPods),
		role("unlabelled", nil, rule("delete", "pods")),
		// Labelled as one it selects: it must not feed on its own rules.
		aggregated("view", toView, toView),
		aggregated("edit", nil, toEdit, toView),
	)
	hasRules(t, client, "view", getSvcs, getPods, listPods)
	hasRules(t, client, "edit", patchPods, getPods, getSvcs, listPods)

	roles := client.RbacV1().ClusterRoles()
	changed, _ := roles.Get(ctx, "b-viewer", metav1.GetOptions{})
	changed.Rules = []rbacv1.PolicyRule{rule("watch", "pods")}
	if _, err := roles.Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	hasRules(t, client, "view", getSvcs, getPods, rule("watch", "pods"))
	hasRules(t, client, "edit", patchPods, getPods, getSvcs, rule("watch", "pods"))

	if err := roles.Delete(ctx, "a-viewer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	hasRules(t, client, "view", rule("watch", "pods"))
	if _, err := roles.Create(ctx, role("c-viewer", toView, getSvcs), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hasRules(t, client, "view", rule("watch", "pods"), getSvcs)

	// Rules written into an aggregated role by hand are put back.
	view, _ := roles.Get(ctx, "view", metav1.GetOptions{})
	view.Rules = append(view.Rules, rule("delete", "secrets"))
	if _, err := roles.Update(ctx, view, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	hasRules(t, client, "view", rule("watch", "pods"), getSvcs)

	// A selector that no longer selects anything leaves no rules.
	edit, _ := roles.Get(ctx, "edit", metav1.GetOptions{})
	edit.AggregationRule.ClusterRoleSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"nothing": "here"}}}
	if _, err := roles.Update(ctx, edit, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	hasRules(t, client, "edit")
}

// TestWritesOnlyWhatItMust: a role without an aggregationRule is never
// written, and an aggregated role whose rules are already the union is not
// written again.
func TestWritesOnlyWhatItMust(t *testing.T) {
	ctx := context.Background()
	client, c := start(t,
		role("viewer", toView, rule("get", "pods")),
		role("plain", nil),
		aggregated("view", nil, toView),
	)
	hasRules(t, client, "view", rule("get", "pods"))
	// The controller's own copy must have caught up too, or it would write
	// what it has already written.
	controllertest.Eventually(t, "view's rules in the controller's lister", func() (bool, string) {
		r, err := c.roles.Get("view")
		if err != nil {
			return false, err.Error()
		}
		return len(r.Rules) == 1, fmt.Sprint(r.Rules)
	})
	client.ClearActions()
	for _, name := range []string{"view", "plain", "viewer", "missing"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected %s of %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
