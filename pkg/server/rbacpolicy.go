package server

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/auth/rbac"
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

// feedRBAC keeps the authorizer's index of roles and bindings from
// informers of the four kinds, and waits until they have listed them.
func feedRBAC(ctx context.Context, factory informers.SharedInformerFactory, a *rbac.Authorizer) error {
	r := factory.Rbac().V1()
	synced := []cache.InformerSynced{}
	for _, inf := range []cache.SharedIndexInformer{r.Roles().Informer(), r.ClusterRoles().Informer(), r.RoleBindings().Informer(), r.ClusterRoleBindings().Informer()} {
		if _, err := inf.AddEventHandler(a.Handler()); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("listing roles and bindings: %w", ctx.Err())
	}
	return nil
}

// waitForPolicy waits until the informers hold every role and binding the
// API holds now (the default policy just written among them): the server
// must not answer as ready while a user's rights are still on their way to
// the authorizer.
func waitForPolicy(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	type item struct{ ns, name, rv string }
	var want [4][]item
	r, l := client.RbacV1(), factory.Rbac().V1()
	add := func(k int, items []metav1.Object) {
		for _, o := range items {
			want[k] = append(want[k], item{o.GetNamespace(), o.GetName(), o.GetResourceVersion()})
		}
	}
	crs, err := r.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	crbs, err := r.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	roles, err := r.Roles("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	rbs, err := r.RoleBindings("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	add(0, objects(crs.Items))
	add(1, objects(crbs.Items))
	add(2, objects(roles.Items))
	add(3, objects(rbs.Items))
	get := [4]func(ns, name string) (metav1.Object, error){
		func(_, name string) (metav1.Object, error) { return l.ClusterRoles().Lister().Get(name) },
		func(_, name string) (metav1.Object, error) { return l.ClusterRoleBindings().Lister().Get(name) },
		func(ns, name string) (metav1.Object, error) { return l.Roles().Lister().Roles(ns).Get(name) },
		func(ns, name string) (metav1.Object, error) {
			return l.RoleBindings().Lister().RoleBindings(ns).Get(name)
		},
	}
	for {
		missing := 0
		for k := range want {
			for _, it := range want[k] {
				o, err := get[k](it.ns, it.name)
				if err != nil || revision(o.GetResourceVersion()) < revision(it.rv) {
					missing++
				}
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func objects[T any, P interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}

func revision(rv string) uint64 {
	n, _ := strconv.ParseUint(rv, 10, 64)
	return n
}
