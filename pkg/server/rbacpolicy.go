package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	rbacbootstrap "github.com/skiffhq/skiff/pkg/auth/rbac/bootstrap"
)

// policyWriters bounds the writes of the default policy in flight: the first
// start creates some 140 objects, and the store commits concurrent writes
// together.
const policyWriters = 16

// ensureRBACPolicy makes the default RBAC policy exist as upstream's API
// server does at every start: missing roles and bindings are created, and
// those marked rbac.authorization.kubernetes.io/autoupdate get what they
// lack back (rules, subjects, labels), never losing what a user added;
// those marked autoupdate=false are left as they are.
func ensureRBACPolicy(ctx context.Context, client kubernetes.Interface, log *slog.Logger) error {
	p := rbacbootstrap.Default()
	rbac := client.RbacV1()
	var writes []func() error

	crs, err := rbac.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	haveCR := map[string]*rbacv1.ClusterRole{}
	for i := range crs.Items {
		haveCR[crs.Items[i].Name] = &crs.Items[i]
	}
	for i := range p.ClusterRoles {
		want := &p.ClusterRoles[i]
		next, op, err := rbacbootstrap.ReconcileClusterRole(haveCR[want.Name], want)
		if err != nil {
			return fmt.Errorf("clusterrole %q: %w", want.Name, err)
		}
		writes = append(writes, write(op, func() error {
			fresh(next)
			_, err := rbac.ClusterRoles().Create(ctx, next, metav1.CreateOptions{})
			return err
		},
			func() error { _, err := rbac.ClusterRoles().Update(ctx, next, metav1.UpdateOptions{}); return err },
			func() error { return rbac.ClusterRoles().Delete(ctx, next.Name, metav1.DeleteOptions{}) }))
	}

	crbs, err := rbac.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	haveCRB := map[string]*rbacv1.ClusterRoleBinding{}
	for i := range crbs.Items {
		haveCRB[crbs.Items[i].Name] = &crbs.Items[i]
	}
	for i := range p.ClusterRoleBindings {
		want := &p.ClusterRoleBindings[i]
		next, op, err := rbacbootstrap.ReconcileClusterRoleBinding(haveCRB[want.Name], want)
		if err != nil {
			return fmt.Errorf("clusterrolebinding %q: %w", want.Name, err)
		}
		writes = append(writes, write(op, func() error {
			fresh(next)
			_, err := rbac.ClusterRoleBindings().Create(ctx, next, metav1.CreateOptions{})
			return err
		},
			func() error {
				_, err := rbac.ClusterRoleBindings().Update(ctx, next, metav1.UpdateOptions{})
				return err
			},
			func() error { return rbac.ClusterRoleBindings().Delete(ctx, next.Name, metav1.DeleteOptions{}) }))
	}

	for i := range p.Roles {
		want := &p.Roles[i]
		var have *rbacv1.Role
		got, err := rbac.Roles(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			have = got
		case !apierrors.IsNotFound(err):
			return err
		}
		next, op, err := rbacbootstrap.ReconcileRole(have, want)
		if err != nil {
			return fmt.Errorf("role %s/%s: %w", want.Namespace, want.Name, err)
		}
		roles := rbac.Roles(want.Namespace)
		writes = append(writes, write(op, func() error { fresh(next); _, err := roles.Create(ctx, next, metav1.CreateOptions{}); return err },
			func() error { _, err := roles.Update(ctx, next, metav1.UpdateOptions{}); return err },
			func() error { return roles.Delete(ctx, next.Name, metav1.DeleteOptions{}) }))
	}
	for i := range p.RoleBindings {
		want := &p.RoleBindings[i]
		var have *rbacv1.RoleBinding
		got, err := rbac.RoleBindings(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			have = got
		case !apierrors.IsNotFound(err):
			return err
		}
		next, op, err := rbacbootstrap.ReconcileRoleBinding(have, want)
		if err != nil {
			return fmt.Errorf("rolebinding %s/%s: %w", want.Namespace, want.Name, err)
		}
		bindings := rbac.RoleBindings(want.Namespace)
		writes = append(writes, write(op, func() error { fresh(next); _, err := bindings.Create(ctx, next, metav1.CreateOptions{}); return err },
			func() error { _, err := bindings.Update(ctx, next, metav1.UpdateOptions{}); return err },
			func() error { return bindings.Delete(ctx, next.Name, metav1.DeleteOptions{}) }))
	}

	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, policyWriters)
	)
	n := 0
	for _, w := range writes {
		if w == nil {
			continue
		}
		n++
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := w(); err != nil && !apierrors.IsAlreadyExists(err) {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n > 0 {
		log.Info("default RBAC policy reconciled", "writes", n)
	}
	return first
}

// write is the write op asks for, or nil. A binding pointing at another
// role is deleted, then created anew (its roleRef cannot change).
func write(op rbacbootstrap.Op, create, update, del func() error) func() error {
	switch op {
	case rbacbootstrap.Create:
		return create
	case rbacbootstrap.Update:
		return update
	case rbacbootstrap.Recreate:
		return func() error {
			if err := del(); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return create()
		}
	}
	return nil
}

// fresh readies an object read from the store to be created anew.
func fresh(o metav1.Object) {
	o.SetResourceVersion("")
	o.SetUID("")
	o.SetCreationTimestamp(metav1.Time{})
}
