package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// target is one served namespaced resource and the verbs it allows.
type target struct {
	gvr   schema.GroupVersionResource
	verbs metav1.Verbs
}

// leftover is what one resource still holds after a deletion pass.
type leftover struct {
	target
	remaining  int
	finalizers map[string]int
	err        error
}

// deleteContent deletes everything in the namespace, records the outcome in its
// status conditions and returns the namespace as last written. The error wraps
// errContentRemains while anything is left.
func (c *Controller) deleteContent(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	var conds conditions
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		conds.discoveryFailed(err)
		var partial *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &partial) {
			return c.updateConditions(ctx, ns, conds), fmt.Errorf("discovering resources: %w", err)
		}
	}
	var targets []target
	for _, l := range discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, lists) {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			conds.parseFailed(l.GroupVersion, err)
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresources go with their object
			}
			targets = append(targets, target{gvr: gv.WithResource(r.Name), verbs: r.Verbs})
		}
	}
	results := c.deleteInOrder(ctx, ns.Name, targets)

	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	conds.contentDeleted(errs)
	conds.contentRemaining(results)
	ns = c.updateConditions(ctx, ns, conds)
	if err := errors.Join(append(errs, conds.discoveryErr)...); err != nil {
		return ns, err
	}
	if left := conds.remainingSummary; left != "" {
		return ns, fmt.Errorf("%w: %s", errContentRemains, left)
	}
	return ns, nil
}

// pods is the resource deleted before all others.
var pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// deleteInOrder deletes the pods first and, only once none is left, the other
// resources (in parallel), so that no pod outlives the Secrets, ConfigMaps,
// NetworkPolicies or ServiceAccounts it uses, as upstream's
// OrderedNamespaceDeletion does. A failure to delete the pods also holds the
// rest back. It reports what each resource it tried still holds.
func (c *Controller) deleteInOrder(ctx context.Context, ns string, targets []target) []leftover {
	var results []leftover
	if i := slices.IndexFunc(targets, func(t target) bool { return t.gvr == pods }); i >= 0 {
		r := c.deleteResource(ctx, ns, targets[i])
		if r.err != nil || r.remaining > 0 {
			return []leftover{r}
		}
		results = append(results, r)
		targets = slices.Delete(slices.Clone(targets), i, i+1)
	}
	rest := make([]leftover, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { rest[i] = c.deleteResource(ctx, ns, t) })
	}
	wg.Wait()
	return append(results, rest...)
}

// deleteResource deletes every object of one resource in the namespace (a
// collection delete when served, else one by one) and reports what is left.
func (c *Controller) deleteResource(ctx context.Context, ns string, t target) leftover {
	out := leftover{target: t}
	api := c.dyn.Resource(t.gvr).Namespace(ns)
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	canList := slices.Contains(t.verbs, "list")
	deleted := false
	if slices.Contains(t.verbs, "deletecollection") {
		err := api.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
			deleted = true
		case !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err):
			out.err = fmt.Errorf("deleting %s in namespace %q: %w", resourceName(t.gvr), ns, err)
			return out
		}
	}
	if !canList {
		return out // nothing more can be done or checked
	}
	list, err := api.List(ctx, metav1.ListOptions{})
	if err != nil {
		out.err = fmt.Errorf("listing %s in namespace %q: %w", resourceName(t.gvr), ns, err)
		return out
	}
	if !deleted {
		var errs []error
		for _, item := range list.Items {
			if item.GetDeletionTimestamp() != nil {
				continue
			}
			if err := api.Delete(ctx, item.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			out.err = fmt.Errorf("deleting %s in namespace %q: %w", resourceName(t.gvr), ns, errors.Join(errs...))
			return out
		}
		if list, err = api.List(ctx, metav1.ListOptions{}); err != nil {
			out.err = fmt.Errorf("listing %s in namespace %q: %w", resourceName(t.gvr), ns, err)
			return out
		}
	}
	out.remaining = len(list.Items)
	for _, item := range list.Items {
		for _, f := range item.GetFinalizers() {
			if out.finalizers == nil {
				out.finalizers = map[string]int{}
			}
			out.finalizers[f]++
		}
	}
	return out
}

// resourceName is "pods." or "endpointslices.discovery.k8s.io", as upstream
// names resources in the namespace's conditions.
func resourceName(gvr schema.GroupVersionResource) string {
	return gvr.Resource + "." + gvr.Group
}

// conditions are the five deletion conditions upstream keeps on a terminating
// namespace, each False (all is well) unless something failed or remains.
type conditions struct {
	discoveryErr     error
	discovery        *corev1.NamespaceCondition
	parse            []string
	content          *corev1.NamespaceCondition
	remaining        *corev1.NamespaceCondition
	finalizers       *corev1.NamespaceCondition
	remainingSummary string
}

func (cs *conditions) discoveryFailed(err error) {
	var msgs []string
	var partial *discovery.ErrGroupDiscoveryFailed
	if errors.As(err, &partial) {
		for gv, e := range partial.Groups {
			msgs = append(msgs, fmt.Sprintf("%s: %v", gv, e))
		}
	} else {
		msgs = append(msgs, err.Error())
	}
	sort.Strings(msgs)
	cs.discoveryErr = err
	cs.discovery = &corev1.NamespaceCondition{
		Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionTrue, Reason: "DiscoveryFailed",
		Message: fmt.Sprintf("Discovery failed for some groups, %d failing: %s", len(msgs), strings.Join(msgs, ", ")),
	}
}

func (cs *conditions) parseFailed(gv string, err error) {
	cs.parse = append(cs.parse, fmt.Sprintf("%s: %v", gv, err))
}

func (cs *conditions) contentDeleted(errs []error) {
	if len(errs) == 0 {
		return
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	sort.Strings(msgs)
	cs.content = &corev1.NamespaceCondition{
		Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
		Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(msgs), strings.Join(msgs, ", ")),
	}
}

func (cs *conditions) contentRemaining(results []leftover) {
	var left []string
	finalizers := map[string]int{}
	for _, r := range results {
		if r.remaining > 0 {
			left = append(left, fmt.Sprintf("%s has %d resource instances", resourceName(r.gvr), r.remaining))
		}
		for f, n := range r.finalizers {
			finalizers[f] += n
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		cs.remainingSummary = strings.Join(left, ", ")
		cs.remaining = &corev1.NamespaceCondition{
			Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: " + cs.remainingSummary,
		}
	}
	if len(finalizers) > 0 {
		var fs []string
		for f, n := range finalizers {
			fs = append(fs, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(fs)
		cs.finalizers = &corev1.NamespaceCondition{
			Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + strings.Join(fs, ", "),
		}
	}
}

// list is the full set, in upstream's order, with the all-clear for each
// condition that did not fire.
func (cs *conditions) list() []corev1.NamespaceCondition {
	or := func(c *corev1.NamespaceCondition, t corev1.NamespaceConditionType, reason, msg string) corev1.NamespaceCondition {
		if c != nil {
			return *c
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
	}
	var parse *corev1.NamespaceCondition
	if len(cs.parse) > 0 {
		sort.Strings(cs.parse)
		parse = &corev1.NamespaceCondition{
			Type: corev1.NamespaceDeletionGVParsingFailure, Status: corev1.ConditionTrue, Reason: "GroupVersionParsingFailed",
			Message: fmt.Sprintf("Failed to parse GroupVersions, %d failing: %s", len(cs.parse), strings.Join(cs.parse, ", ")),
		}
	}
	return []corev1.NamespaceCondition{
		or(cs.discovery, corev1.NamespaceDeletionDiscoveryFailure, "ResourcesDiscovered", "All resources successfully discovered"),
		or(parse, corev1.NamespaceDeletionGVParsingFailure, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
		or(cs.content, corev1.NamespaceDeletionContentFailure, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
		or(cs.remaining, corev1.NamespaceContentRemaining, "ContentRemoved", "All content successfully removed"),
		or(cs.finalizers, corev1.NamespaceFinalizersRemaining, "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
	}
}

// updateConditions writes the conditions when they changed, keeping the
// transition time of those that did not. A failed write only costs the report.
func (c *Controller) updateConditions(ctx context.Context, ns *corev1.Namespace, cs conditions) *corev1.Namespace {
	now := metav1.NewTime(c.now())
	next := ns.DeepCopy()
	changed := false
	for _, want := range cs.list() {
		i := slices.IndexFunc(next.Status.Conditions, func(c corev1.NamespaceCondition) bool { return c.Type == want.Type })
		if i >= 0 {
			have := next.Status.Conditions[i]
			if have.Status == want.Status && have.Reason == want.Reason && have.Message == want.Message {
				continue
			}
			want.LastTransitionTime = now
			next.Status.Conditions[i] = want
		} else {
			want.LastTransitionTime = now
			next.Status.Conditions = append(next.Status.Conditions, want)
		}
		changed = true
	}
	if !changed {
		return ns
	}
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		c.log.Debug("updating namespace conditions", "namespace", ns.Name, "err", err)
		return ns
	}
	return updated
}
