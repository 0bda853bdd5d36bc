package server

import (
	"context"
	"errors"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// fullAuthority is what setting an aggregationRule takes: it can gather
// anything.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// guardEscalation makes the RBAC kinds refuse, as upstream's RBAC storage
// does, a write by which a user would grant permissions they do not hold:
// a role with rules beyond the writer's own (unless they may "escalate"
// roles), and a binding to a role whose rules they do not hold (unless they
// may "bind" it). system:masters may do either.
func guardEscalation(reg *apiserver.Registry, a *rbac.Authorizer) {
	const gv = rbacv1.GroupName + "/v1"
	for _, name := range []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"} {
		res := reg.Lookup(gv, name)
		if res == nil {
			continue
		}
		gr := schema.GroupResource{Group: rbacv1.GroupName, Resource: name}
		check := func(ctx context.Context, obj, old runtime.Object) error {
			user, ok := apiserver.UserFrom(ctx)
			if !ok || slices.Contains(user.Groups, apiserver.MastersGroup) || onlyGCFields(obj, old) {
				return nil
			}
			m, err := meta.Accessor(obj)
			if err != nil {
				return err
			}
			ns := m.GetNamespace()
			may := func(verb, resource, name string) bool {
				return a.Authorize(&rbac.Attributes{User: user.Name, Groups: user.Groups, Verb: verb, ResourceRequest: true,
					APIGroup: rbacv1.GroupName, Resource: resource, Namespace: ns, Name: name}).Allowed
			}
			refuse := func(err error) error { return apierrors.NewForbidden(gr, m.GetName(), err) }
			switch o := obj.(type) {
			case *rbacv1.Role:
				if may("escalate", "roles", o.Name) {
					return nil
				}
				if err := a.ConfirmNoEscalation(user.Name, user.Groups, ns, o.Rules); err != nil {
					return refuse(err)
				}
			case *rbacv1.ClusterRole:
				if may("escalate", "clusterroles", o.Name) {
					return nil
				}
				if err := a.ConfirmNoEscalation(user.Name, user.Groups, "", o.Rules); err != nil {
					return refuse(err)
				}
				oldRole, _ := old.(*rbacv1.ClusterRole)
				if aggregates(o) || aggregates(oldRole) {
					if err := a.ConfirmNoEscalation(user.Name, user.Groups, "", fullAuthority); err != nil {
						return refuse(errors.New("must have cluster-admin privileges to use the aggregationRule"))
					}
				}
			case *rbacv1.RoleBinding:
				return confirmBinding(a, o.RoleRef, ns, user, may, refuse)
			case *rbacv1.ClusterRoleBinding:
				return confirmBinding(a, o.RoleRef, "", user, may, refuse)
			}
			return nil
		}
		admit, admitUpdate := res.Admit, res.AdmitUpdate
		res.Admit = func(ctx context.Context, v apiserver.View, obj runtime.Object) error {
			if admit != nil {
				if err := admit(ctx, v, obj); err != nil {
					return err
				}
			}
			return check(ctx, obj, nil)
		}
		res.AdmitUpdate = func(ctx context.Context, v apiserver.View, obj, old runtime.Object) error {
			if admitUpdate != nil {
				if err := admitUpdate(ctx, v, obj, old); err != nil {
					return err
				}
			}
			return check(ctx, obj, old)
		}
	}
}

// confirmBinding lets a binding to ref be written by a user who may "bind"
// that role, or who holds every rule of it.
func confirmBinding(a *rbac.Authorizer, ref rbacv1.RoleRef, ns string, user apiserver.User,
	may func(verb, resource, name string) bool, refuse func(error) error) error {
	resource := "clusterroles"
	if ref.Kind == "Role" {
		resource = "roles"
	}
	if may("bind", resource, ref.Name) {
		return nil
	}
	rules, err := a.RoleRefRules(ref, ns)
	if err != nil {
		return err
	}
	if err := a.ConfirmNoEscalation(user.Name, user.Groups, ns, rules); err != nil {
		return refuse(err)
	}
	return nil
}

func aggregates(r *rbacv1.ClusterRole) bool {
	return r != nil && r.AggregationRule != nil && len(r.AggregationRule.ClusterRoleSelectors) > 0
}

// onlyGCFields reports an update that changes nothing but what the garbage
// collector changes (owners, finalizers), which upstream lets through.
func onlyGCFields(obj, old runtime.Object) bool {
	if old == nil {
		return false
	}
	cp := obj.DeepCopyObject()
	cm, err1 := meta.Accessor(cp)
	om, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return false
	}
	cm.SetOwnerReferences(om.GetOwnerReferences())
	cm.SetFinalizers(om.GetFinalizers())
	cm.SetManagedFields(om.GetManagedFields())
	cm.SetResourceVersion(om.GetResourceVersion())
	return apiequality.Semantic.DeepEqual(cp, old)
}
