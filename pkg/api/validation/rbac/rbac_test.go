package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

// expectExactly fails unless got prints as want, one error a line, in
// order: what kubectl shows after `The Role "x" is invalid: `.
func expectExactly(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Error())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors\n got: %s\nwant: %s", strings.Join(lines, "\n      "), strings.Join(want, "\n      "))
	}
}

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

var readPods = rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}

func TestValidateRole(t *testing.T) {
	tests := []struct {
		name string
		role rbacv1.Role
		want []string
	}{
		{"valid", rbacv1.Role{ObjectMeta: meta("default", "reader"), Rules: []rbacv1.PolicyRule{readPods,
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}, ResourceNames: []string{"x"}}}}, nil},
		{"no rules", rbacv1.Role{ObjectMeta: meta("default", "nothing")}, nil},
		{"any name a path segment takes", rbacv1.Role{ObjectMeta: meta("default", "system:Reader@x")}, nil},
		{"no namespace", rbacv1.Role{ObjectMeta: meta("", "reader")},
			[]string{"metadata.namespace: Required value"}},
		{"no name", rbacv1.Role{ObjectMeta: meta("default", "")},
			[]string{"metadata.name: Required value: name or generateName is required"}},
		{"a name with a slash", rbacv1.Role{ObjectMeta: meta("default", "a/b")},
			[]string{`metadata.name: Invalid value: "a/b": may not contain '/'`}},
		{"a name of dots", rbacv1.Role{ObjectMeta: meta("default", "..")},
			[]string{`metadata.name: Invalid value: "..": may not be '..'`}},
		// Upstream's declarative validation reports missing verbs in its
		// own words, after every other error.
		{"no verbs", rbacv1.Role{ObjectMeta: meta("default", "r"), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			[]string{"rules[0].verbs: Required value"}},
		{"no verbs and no groups", rbacv1.Role{ObjectMeta: meta("default", "r"), Rules: []rbacv1.PolicyRule{
			readPods, {Resources: []string{"pods"}}}},
			[]string{
				"rules[1].apiGroups: Required value: resource rules must supply at least one api group",
				"rules[1].verbs: Required value",
			}},
		{"no groups nor resources", rbacv1.Role{ObjectMeta: meta("default", "r"), Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}}},
			[]string{
				"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
				"rules[0].resources: Required value: resource rules must supply at least one resource",
			}},
		{"non-resource URLs in a namespace", rbacv1.Role{ObjectMeta: meta("default", "r"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}},
			[]string{`rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`}},
		{"non-resource URLs and resources", rbacv1.Role{ObjectMeta: meta("default", "r"), Rules: []rbacv1.PolicyRule{
			{NonResourceURLs: []string{"/metrics"}, Resources: []string{"pods"}}}},
			[]string{
				`rules[0].nonResourceURLs: Invalid value: ["/metrics"]: namespaced rules cannot apply to non-resource URLs`,
				`rules[0].nonResourceURLs: Invalid value: ["/metrics"]: rules cannot apply to both regular resources and non-resource URLs`,
				"rules[0].verbs: Required value",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectExactly(t, ValidateRole(&tt.role), tt.want...) })
	}
}

func TestValidateRoleUpdate(t *testing.T) {
	old := &rbacv1.Role{ObjectMeta: validationtest.Stored(meta("default", "r")),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}
	// A rule stored without verbs (an older server's) and left as it was
	// gets the hand-written words; once the rules change, the declarative.
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"a": "b"}
	expectExactly(t, ValidateRoleUpdate(relabelled, old), "rules[0].verbs: Required value: verbs must contain at least one value")
	changed := old.DeepCopy()
	changed.Rules[0].Resources = []string{"pods", "services"}
	expectExactly(t, ValidateRoleUpdate(changed, old), "rules[0].verbs: Required value")

	renamed := old.DeepCopy()
	renamed.Rules[0].Verbs = []string{"get"}
	renamed.Name = "other"
	expectExactly(t, ValidateRoleUpdate(renamed, old), `metadata.name: Invalid value: "other": field is immutable`)
}

func TestValidateClusterRole(t *testing.T) {
	selector := func(s metav1.LabelSelector) *rbacv1.AggregationRule {
		return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{s}}
	}
	tests := []struct {
		name string
		role rbacv1.ClusterRole
		want []string
	}{
		{"valid", rbacv1.ClusterRole{ObjectMeta: meta("", "system:reader"), Rules: []rbacv1.PolicyRule{readPods,
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/metrics/*"}}}}, nil},
		{"aggregated", rbacv1.ClusterRole{ObjectMeta: meta("", "monitoring"),
			AggregationRule: selector(metav1.LabelSelector{MatchLabels: map[string]string{"rbac.example.com/aggregate-to-monitoring": "true"}})}, nil},
		{"namespaced", rbacv1.ClusterRole{ObjectMeta: meta("default", "r")},
			[]string{`metadata.namespace: Forbidden: not allowed on this type`}},
		{"non-resource URLs and resource names", rbacv1.ClusterRole{ObjectMeta: meta("", "r"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}, ResourceNames: []string{"x"}}}},
			[]string{`rules[0].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs`}},
		{"no verbs on a URL", rbacv1.ClusterRole{ObjectMeta: meta("", "r"), Rules: []rbacv1.PolicyRule{
			{NonResourceURLs: []string{"/healthz"}}, {Verbs: []string{}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}}}},
			[]string{"rules[0].verbs: Required value", "rules[1].verbs: Required value"}},
		{"an aggregation rule without selectors", rbacv1.ClusterRole{ObjectMeta: meta("", "r"), AggregationRule: &rbacv1.AggregationRule{}},
			[]string{"aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"}},
		{"a bad label value", rbacv1.ClusterRole{ObjectMeta: meta("", "r"),
			AggregationRule: selector(metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}})},
			[]string{
				`aggregationRule.clusterRoleSelectors[0].matchLabels: Invalid value: "b c": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
				"aggregationRule.clusterRoleSelectors[0]: Invalid value: null: invalid label selector.",
			}},
		{"a bad operator", rbacv1.ClusterRole{ObjectMeta: meta("", "r"),
			AggregationRule: selector(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}})},
			[]string{
				`aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`,
				"aggregationRule.clusterRoleSelectors[0]: Invalid value: null: invalid label selector.",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectExactly(t, ValidateClusterRole(&tt.role), tt.want...) })
	}
}

// TestValidateClusterRoleUpdate: a selector stored with an expression
// value validation now refuses passes the selector check, as upstream lets
// it; but, as upstream, it still cannot be built into a selector.
func TestValidateClusterRoleUpdate(t *testing.T) {
	in := func(value string) *rbacv1.AggregationRule {
		return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "a", Operator: metav1.LabelSelectorOpIn, Values: []string{value}}}}}}
	}
	bad := &rbacv1.ClusterRole{ObjectMeta: validationtest.Stored(meta("", "r")), AggregationRule: in("b c")}
	relabelled := bad.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	expectExactly(t, ValidateClusterRoleUpdate(relabelled, bad),
		"aggregationRule.clusterRoleSelectors[0]: Invalid value: null: invalid label selector.")

	good := bad.DeepCopy()
	good.AggregationRule = in("b")
	worse := good.DeepCopy()
	worse.AggregationRule = in("b c")
	validationtest.Expect(t, ValidateClusterRoleUpdate(worse, good),
		validationtest.Invalid("aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values[0]", "a valid label must be"),
		validationtest.Invalid("aggregationRule.clusterRoleSelectors[0]", "invalid label selector."))
}

func TestValidateRoleBinding(t *testing.T) {
	ref := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: name}
	}
	user := rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "valid@username"}
	tests := []struct {
		name string
		rb   rbacv1.RoleBinding
		want []string
	}{
		{"valid", rbacv1.RoleBinding{ObjectMeta: meta("default", "master"), RoleRef: ref("Role", "valid"), Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Name: "validsaname"},
			user,
			{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "valid@groupname"},
		}}, nil},
		{"a cluster role", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: ref("ClusterRole", "view")}, nil},
		{"no namespace", rbacv1.RoleBinding{ObjectMeta: meta("", "b"), RoleRef: ref("Role", "valid")},
			[]string{"metadata.namespace: Required value"}},
		{"a role of another group", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: rbacv1.RoleRef{APIGroup: "rbac.GroupName", Kind: "Role", Name: "valid"}},
			[]string{`roleRef.apiGroup: Unsupported value: "rbac.GroupName": supported values: "rbac.authorization.k8s.io"`}},
		{"a role of another kind", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: ref("Type", "valid")},
			[]string{`roleRef.kind: Unsupported value: "Type": supported values: "Role", "ClusterRole"`}},
		{"a role with a slash", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: ref("Role", "a/b")},
			[]string{`roleRef.name: Invalid value: "a/b": may not contain '/'`}},
		// The declarative validation's errors come last, subjects first.
		{"no role, no subject name", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Roll"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount"}, {Kind: "Robot", Name: "r2"}}},
			[]string{
				`roleRef.kind: Unsupported value: "Roll": supported values: "Role", "ClusterRole"`,
				`subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`,
				"subjects[0].name: Required value",
				"roleRef.name: Required value",
			}},
		{"a bad service account", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: ref("Role", "valid"),
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", APIGroup: "rbac.authorization.k8s.io", Name: "subject:bad"}}},
			[]string{
				`subjects[0].name: Invalid value: "subject:bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""`,
			}},
		{"a user of the core group", rbacv1.RoleBinding{ObjectMeta: meta("default", "b"), RoleRef: ref("Role", "valid"),
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}},
			[]string{`subjects[0].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectExactly(t, ValidateRoleBinding(&tt.rb), tt.want...) })
	}
}

func TestValidateClusterRoleBinding(t *testing.T) {
	ref := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "valid"}
	tests := []struct {
		name string
		crb  rbacv1.ClusterRoleBinding
		want []string
	}{
		{"valid", rbacv1.ClusterRoleBinding{ObjectMeta: meta("", "master"), RoleRef: ref, Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Namespace: "foo", Name: "validsaname"},
			{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "valid@username"},
		}}, nil},
		{"a role", rbacv1.ClusterRoleBinding{ObjectMeta: meta("", "b"), RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "valid"}},
			[]string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`}},
		{"no name", rbacv1.ClusterRoleBinding{RoleRef: ref},
			[]string{"metadata.name: Required value: name or generateName is required"}},
		{"a service account without its namespace", rbacv1.ClusterRoleBinding{ObjectMeta: meta("", "b"), RoleRef: ref,
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "good"}}},
			[]string{"subjects[0].namespace: Required value"}},
		{"a subject without a kind", rbacv1.ClusterRoleBinding{ObjectMeta: meta("", "b"), RoleRef: ref,
			Subjects: []rbacv1.Subject{{Name: "subject"}}},
			[]string{`subjects[0].kind: Unsupported value: "": supported values: "ServiceAccount", "User", "Group"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectExactly(t, ValidateClusterRoleBinding(&tt.crb), tt.want...) })
	}
}

// TestBindingUpdates: the roleRef is immutable, shown as upstream shows it;
// errors of fields an update leaves alone keep the hand-written order.
func TestBindingUpdates(t *testing.T) {
	old := &rbacv1.RoleBinding{ObjectMeta: validationtest.Stored(meta("default", "b")),
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "valid"}}

	subjects := old.DeepCopy()
	subjects.Subjects = []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"}}
	expectExactly(t, ValidateRoleBindingUpdate(subjects, old))

	changed := old.DeepCopy()
	changed.RoleRef = rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "edit"}
	expectExactly(t, ValidateRoleBindingUpdate(changed, old),
		`roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"edit"}: field is immutable`)

	emptied := old.DeepCopy()
	emptied.RoleRef.Name = ""
	emptied.Subjects = []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io"}}
	expectExactly(t, ValidateRoleBindingUpdate(emptied, old),
		"roleRef.name: Required value",
		`roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":""}: field is immutable`,
		"subjects[0].name: Required value")

	oldCRB := &rbacv1.ClusterRoleBinding{ObjectMeta: validationtest.Stored(meta("", "b")),
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"}}
	crb := oldCRB.DeepCopy()
	crb.RoleRef.Name = "admin"
	expectExactly(t, ValidateClusterRoleBindingUpdate(crb, oldCRB),
		`roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"admin"}: field is immutable`)
}
