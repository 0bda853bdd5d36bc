package bootstrap

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
)

// Op is what reconciling one object of the policy asks the caller to write.
type Op string

const (
	// None: the object exists and already holds everything the policy
	// wants.
	None Op = "none"
	// Create: the object does not exist; create the one returned.
	Create Op = "create"
	// Update: update the object to the one returned, which is the existing
	// one with the policy's missing rules (or subjects, or aggregation
	// selectors), labels and annotations added.
	Update Op = "update"
	// Recreate: a binding refers to another role than the policy's, and a
	// roleRef cannot be changed: delete the existing binding and create the
	// one returned.
	Recreate Op = "recreate"
	// Skip: the object differs from the policy but opted out of
	// reconciliation (annotation rbac.authorization.kubernetes.io/autoupdate
	// "false"): write nothing.
	Skip Op = "skip"
)

// Writes reports whether the caller has something to write.
func (o Op) Writes() bool { return o == Create || o == Update || o == Recreate }

// The reconcilers below are upstream's reconcile-on-start, the union kind
// kube-apiserver runs: they add what the policy wants and is missing, and
// never remove what a user added (rules, subjects, labels, annotations);
// objects annotated autoupdate "false" are left alone, any other value (or
// none) lets them be reconciled. existing is nil when the object does not
// exist. Neither argument is modified and the object returned is always a
// new one; with Skip it is what the object would have become.

// ReconcileClusterRole reconciles a ClusterRole of the policy.
func ReconcileClusterRole(existing, wanted *rbacv1.ClusterRole) (*rbacv1.ClusterRole, Op, error) {
	var have reconciliation.RuleOwner
	if existing != nil {
		have = reconciliation.ClusterRoleRuleOwner{ClusterRole: existing}
	}
	got, op, err := reconcileRole(have, reconciliation.ClusterRoleRuleOwner{ClusterRole: wanted})
	if err != nil {
		return nil, "", err
	}
	return got.(reconciliation.ClusterRoleRuleOwner).ClusterRole, op, nil
}

// ReconcileRole reconciles a Role of the policy.
func ReconcileRole(existing, wanted *rbacv1.Role) (*rbacv1.Role, Op, error) {
	var have reconciliation.RuleOwner
	if existing != nil {
		have = reconciliation.RoleRuleOwner{Role: existing}
	}
	got, op, err := reconcileRole(have, reconciliation.RoleRuleOwner{Role: wanted})
	if err != nil {
		return nil, "", err
	}
	return got.(reconciliation.RoleRuleOwner).Role, op, nil
}

// ReconcileClusterRoleBinding reconciles a ClusterRoleBinding of the policy.
func ReconcileClusterRoleBinding(existing, wanted *rbacv1.ClusterRoleBinding) (*rbacv1.ClusterRoleBinding, Op, error) {
	var have reconciliation.RoleBinding
	if existing != nil {
		have = reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: existing}
	}
	got, op, err := reconcileBinding(have, reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: wanted})
	if err != nil {
		return nil, "", err
	}
	return got.(reconciliation.ClusterRoleBindingAdapter).ClusterRoleBinding, op, nil
}

// ReconcileRoleBinding reconciles a RoleBinding of the policy.
func ReconcileRoleBinding(existing, wanted *rbacv1.RoleBinding) (*rbacv1.RoleBinding, Op, error) {
	var have reconciliation.RoleBinding
	if existing != nil {
		have = reconciliation.RoleBindingAdapter{RoleBinding: existing}
	}
	got, op, err := reconcileBinding(have, reconciliation.RoleBindingAdapter{RoleBinding: wanted})
	if err != nil {
		return nil, "", err
	}
	return got.(reconciliation.RoleBindingAdapter).RoleBinding, op, nil
}

// reconcileRole runs upstream's reconciliation (k8s.io/component-helpers)
// as a dry run against the one existing object, so it writes nothing.
func reconcileRole(existing, wanted reconciliation.RuleOwner) (reconciliation.RuleOwner, Op, error) {
	opts := reconciliation.ReconcileRoleOptions{
		Role:   wanted.DeepCopyRuleOwner(),
		Client: roleSource{existing},
	}
	result, err := opts.Run()
	if err != nil {
		return nil, "", fmt.Errorf("reconcile %s: %w", wanted.GetName(), err)
	}
	return result.Role, op(result.Operation, result.Protected), nil
}

func reconcileBinding(existing, wanted reconciliation.RoleBinding) (reconciliation.RoleBinding, Op, error) {
	opts := reconciliation.ReconcileRoleBindingOptions{
		RoleBinding: wanted.DeepCopyRoleBinding(),
		Client:      bindingSource{existing},
	}
	result, err := opts.Run()
	if err != nil {
		return nil, "", fmt.Errorf("reconcile %s: %w", wanted.GetName(), err)
	}
	return result.RoleBinding, op(result.Operation, result.Protected), nil
}

func op(o reconciliation.ReconcileOperation, protected bool) Op {
	switch {
	case o == reconciliation.ReconcileNone:
		return None
	case protected:
		return Skip
	case o == reconciliation.ReconcileCreate:
		return Create
	case o == reconciliation.ReconcileRecreate:
		return Recreate
	}
	return Update
}

// roleSource and bindingSource are the "clients" of a dry run: they know one
// object, or none, and are never asked to write.
type roleSource struct{ existing reconciliation.RuleOwner }

func (s roleSource) Get(namespace, name string) (reconciliation.RuleOwner, error) {
	if s.existing == nil {
		return nil, apierrors.NewNotFound(rbacv1.Resource("role"), name)
	}
	return s.existing, nil
}

func (roleSource) Create(reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	return nil, errDryRun
}

func (roleSource) Update(reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	return nil, errDryRun
}

type bindingSource struct{ existing reconciliation.RoleBinding }

func (s bindingSource) Get(namespace, name string) (reconciliation.RoleBinding, error) {
	if s.existing == nil {
		return nil, apierrors.NewNotFound(rbacv1.Resource("rolebinding"), name)
	}
	return s.existing, nil
}

func (bindingSource) Delete(string, string, types.UID) error { return errDryRun }

func (bindingSource) Create(reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	return nil, errDryRun
}

func (bindingSource) Update(reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	return nil, errDryRun
}

var errDryRun = fmt.Errorf("bootstrap: reconciliation is a dry run")
