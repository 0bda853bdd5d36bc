package bootstrap

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func TestReconcileClusterRole(t *testing.T) {
	wanted := clusterRole("system:basic-user",
		verbs("create").groups("authorization.k8s.io").resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
		verbs("create").groups("authentication.k8s.io").resources("selfsubjectreviews"),
	)
	// A user's own additions to a bootstrap role: a rule, a label, an
	// annotation.
	added := verbs("get").groups("").resources("namespaces")
	customized := wanted.DeepCopy()
	customized.Rules = append(customized.Rules[:1:1], policyRules([]rule{added})...)
	customized.Labels["team"] = "platform"
	customized.Annotations["note"] = "ours"

	for _, tc := range []struct {
		name     string
		existing *rbacv1.ClusterRole
		wantOp   Op
		want     *rbacv1.ClusterRole
	}{
		{"missing: created", nil, Create, &wanted},
		{"as the policy has it: left", wanted.DeepCopy(), None, &wanted},
		{"a rule removed and others added: the rule comes back, the others stay", customized, Update, func() *rbacv1.ClusterRole {
			r := customized.DeepCopy()
			r.Rules = append(r.Rules, wanted.Rules[1])
			return r
		}()},
		{"the bootstrap label removed: it comes back", func() *rbacv1.ClusterRole {
			r := wanted.DeepCopy()
			r.Labels = nil
			return r
		}(), Update, &wanted},
		{"opted out: skipped", func() *rbacv1.ClusterRole {
			r := customized.DeepCopy()
			r.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
			return r
		}(), Skip, nil},
		{"opted out and as the policy has it: nothing to skip", func() *rbacv1.ClusterRole {
			r := wanted.DeepCopy()
			r.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
			return r
		}(), None, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before *rbacv1.ClusterRole
			if tc.existing != nil {
				before = tc.existing.DeepCopy()
			}
			got, op, err := ReconcileClusterRole(tc.existing, &wanted)
			if err != nil {
				t.Fatal(err)
			}
			if op != tc.wantOp {
				t.Errorf("op %s, want %s", op, tc.wantOp)
			}
			if tc.want != nil && !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", asYAML(got), asYAML(tc.want))
			}
			if tc.existing != nil && !equality.Semantic.DeepEqual(tc.existing, before) {
				t.Errorf("the existing object was modified")
			}
		})
	}
}

// An aggregated role's rules are the controller's to write: reconciling
// keeps them, and the aggregation selectors the policy wants.
func TestReconcileAggregatedRole(t *testing.T) {
	wanted := aggregated("view")
	existing := wanted.DeepCopy()
	existing.Rules = policyRules([]rule{verbs(read...).groups("").resources("pods")})
	if _, op, err := ReconcileClusterRole(existing, &wanted); err != nil || op != None {
		t.Errorf("aggregated rules present: %s, %v; want none", op, err)
	}
	existing.AggregationRule.ClusterRoleSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"mine": "true"}}}
	got, op, err := ReconcileClusterRole(existing, &wanted)
	if err != nil || op != Update || len(got.AggregationRule.ClusterRoleSelectors) != 2 || len(got.Rules) != 1 {
		t.Errorf("a user's selector in place of the policy's: %s, %v\n%s", op, err, asYAML(got))
	}
}

func TestReconcileRole(t *testing.T) {
	wanted := role("kube-system", "extension-apiserver-authentication-reader",
		verbs(read...).groups("").resources("configmaps").names("extension-apiserver-authentication"))
	existing := wanted.DeepCopy()
	existing.Rules[0].Verbs = []string{"get"}
	got, op, err := ReconcileRole(existing, &wanted)
	if err != nil || op != Update {
		t.Fatalf("verbs removed: %s, %v", op, err)
	}
	// Upstream adds what is missing as rules of one verb each.
	want := existing.DeepCopy()
	want.Rules = append(want.Rules,
		rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"extension-apiserver-authentication"}},
		rbacv1.PolicyRule{Verbs: []string{"watch"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"extension-apiserver-authentication"}},
	)
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", asYAML(got), asYAML(want))
	}
}

func TestReconcileBindings(t *testing.T) {
	wanted := clusterRoleBinding("system:public-info-viewer", group("system:authenticated"), group("system:unauthenticated"))

	got, op, err := ReconcileClusterRoleBinding(nil, &wanted)
	if err != nil || op != Create || !equality.Semantic.DeepEqual(got, &wanted) {
		t.Errorf("missing: %s, %v", op, err)
	}

	// A subject removed and another added: the removed one comes back, the
	// added one stays.
	existing := wanted.DeepCopy()
	existing.Subjects = []rbacv1.Subject{group("system:authenticated"), user("auditor")}
	got, op, err = ReconcileClusterRoleBinding(existing, &wanted)
	want := existing.DeepCopy()
	want.Subjects = append(want.Subjects, group("system:unauthenticated"))
	if err != nil || op != Update || !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("subject removed: %s, %v\n%s", op, err, asYAML(got))
	}

	existing.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
	if _, op, _ := ReconcileClusterRoleBinding(existing, &wanted); op != Skip {
		t.Errorf("opted out: %s, want skip", op)
	}

	// A binding of another role cannot be updated to this one's.
	other := wanted.DeepCopy()
	other.RoleRef.Name = "cluster-admin"
	got, op, err = ReconcileClusterRoleBinding(other, &wanted)
	if err != nil || op != Recreate || !equality.Semantic.DeepEqual(got, &wanted) {
		t.Errorf("another role: %s, %v\n%s", op, err, asYAML(got))
	}

	rb := roleBinding("kube-system", "system:controller:token-cleaner", "system:controller:token-cleaner", serviceAccount("kube-system", "token-cleaner"))
	if _, op, err := ReconcileRoleBinding(rb.DeepCopy(), &rb); err != nil || op != None {
		t.Errorf("RoleBinding as the policy has it: %s, %v", op, err)
	}
	if !Create.Writes() || !Update.Writes() || !Recreate.Writes() || None.Writes() || Skip.Writes() {
		t.Errorf("Writes() is wrong")
	}
}

func asYAML(obj any) string {
	out, _ := yaml.Marshal(obj)
	return string(out)
}
