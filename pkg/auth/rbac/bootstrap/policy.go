package bootstrap

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The label and annotation upstream puts on every object of its policy. The
// annotation is what reconciliation looks at: "false" opts an object out.
const (
	BootstrappingLabel = "kubernetes.io/bootstrapping"
	BootstrappingValue = "rbac-defaults"
)

// controllerPrefix names the controllers' roles, system:controller:NAME,
// each bound to the service account kube-system/NAME.
const controllerPrefix = "system:controller:"

// Policy is every object of the default policy.
type Policy struct {
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role // in kube-system and kube-public
	RoleBindings        []rbacv1.RoleBinding
}

// Default returns the whole policy, as kube-apiserver ensures it: the
// controllers' roles and bindings among the others. Each call builds new
// objects, which the caller may modify.
func Default() Policy {
	return Policy{
		ClusterRoles:        append(ClusterRoles(), ControllerRoles()...),
		ClusterRoleBindings: append(ClusterRoleBindings(), ControllerRoleBindings()...),
		Roles:               NamespaceRoles(),
		RoleBindings:        NamespaceRoleBindings(),
	}
}

// ClusterRoles are upstream's ClusterRoles but the controllers'.
func ClusterRoles() []rbacv1.ClusterRole { return clusterRoles() }

// ClusterRoleBindings are upstream's ClusterRoleBindings but the
// controllers'.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding { return clusterRoleBindings() }

// ControllerRoles are the roles of kube-controller-manager's controllers
// that run with their own service accounts, system:controller:NAME.
func ControllerRoles() []rbacv1.ClusterRole { return controllerRoles() }

// ControllerRoleBindings bind each controller's role to its service account,
// kube-system/NAME.
func ControllerRoleBindings() []rbacv1.ClusterRoleBinding {
	var out []rbacv1.ClusterRoleBinding
	for _, r := range controllerRoles() {
		out = append(out, clusterRoleBinding(r.Name, serviceAccount("kube-system", strings.TrimPrefix(r.Name, controllerPrefix))))
	}
	return out
}

// NamespaceRoles are upstream's Roles in kube-system and kube-public.
func NamespaceRoles() []rbacv1.Role { return namespaceRoles() }

// NamespaceRoleBindings are upstream's RoleBindings in kube-system and
// kube-public.
func NamespaceRoleBindings() []rbacv1.RoleBinding { return namespaceRoleBindings() }

// The verb lists upstream's policy repeats.
var (
	read       = []string{"get", "list", "watch"}
	write      = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite  = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	readUpdate = []string{"get", "list", "watch", "update", "patch"}
)

// rule builds a PolicyRule as upstream's policy does: verbs(...).groups(...)
// .resources(...), or verbs(...).urls(...).
type rule struct{ r rbacv1.PolicyRule }

func verbs(v ...string) rule              { return rule{rbacv1.PolicyRule{Verbs: v}} }
func (b rule) groups(g ...string) rule    { b.r.APIGroups = g; return b }
func (b rule) resources(r ...string) rule { b.r.Resources = r; return b }
func (b rule) names(n ...string) rule     { b.r.ResourceNames = n; return b }
func (b rule) urls(u ...string) rule      { b.r.NonResourceURLs = u; return b }
func events() rule {
	return verbs("create", "update", "patch").groups("", "events.k8s.io").resources("events")
}

// policyRules builds rules with each list copied and sorted, as upstream
// stores them.
func policyRules(rules []rule) []rbacv1.PolicyRule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]rbacv1.PolicyRule, len(rules))
	for i, b := range rules {
		out[i] = rbacv1.PolicyRule{
			Verbs: sorted(b.r.Verbs), APIGroups: sorted(b.r.APIGroups), Resources: sorted(b.r.Resources),
			ResourceNames: sorted(b.r.ResourceNames), NonResourceURLs: sorted(b.r.NonResourceURLs),
		}
	}
	return out
}

func sorted(s []string) []string {
	if s == nil {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func meta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace:   namespace,
		Name:        name,
		Labels:      map[string]string{BootstrappingLabel: BootstrappingValue},
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"},
	}
}

func clusterRole(name string, rules ...rule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: meta("", name), Rules: policyRules(rules)}
}

func controllerRole(name string, rules ...rule) rbacv1.ClusterRole {
	return clusterRole(controllerPrefix+name, rules...)
}

func role(namespace, name string, rules ...rule) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: meta(namespace, name), Rules: policyRules(rules)}
}

// aggregateLabel marks a ClusterRole whose rules the aggregated role of that
// name (admin, edit, view) gathers.
func aggregateLabel(to string) string { return "rbac.authorization.k8s.io/aggregate-to-" + to }

// aggregated is a ClusterRole with no rules of its own: the
// clusterrole-aggregation controller fills in those of the roles labelled
// aggregate-to-NAME.
func aggregated(name string) rbacv1.ClusterRole {
	r := clusterRole(name)
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
		{MatchLabels: map[string]string{aggregateLabel(name): "true"}},
	}}
	return r
}

// aggregateTo labels r so the aggregated roles named gather its rules.
func aggregateTo(r rbacv1.ClusterRole, to ...string) rbacv1.ClusterRole {
	for _, t := range to {
		r.Labels[aggregateLabel(t)] = "true"
	}
	return r
}

func clusterRoleBinding(name string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: meta("", name),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   subjects,
	}
}

func roleBinding(namespace, name, role string, subjects ...rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{
		ObjectMeta: meta(namespace, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   subjects,
	}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
}

func serviceAccount(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}
