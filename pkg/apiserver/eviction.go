package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The eviction subresource deletes a pod unless that would take more of its
// pods than a PodDisruptionBudget allows: it checks the budget's status (as
// the disruption controller keeps it), takes one disruption from it and names
// the pod in status.disruptedPods in one compare-and-swap, then deletes the
// pod. These are upstream's rules and messages (the pods' EvictionREST).

// maxDisruptedPods is how many approved evictions a budget may hold that the
// disruption controller has not seen yet; past it, evictions are refused.
const maxDisruptedPods = 2000

// maxEvictionTries bounds the retries of a pod delete that lost a race with
// another write to the pod.
const maxEvictionTries = 20

var (
	evictionGVK        = policyv1.SchemeGroupVersion.WithKind("Eviction")
	evictionV1beta1GVK = policyv1beta1.SchemeGroupVersion.WithKind("Eviction")
	pdbGroupResource   = schema.GroupResource{Group: "policy", Resource: "poddisruptionbudget"}
)

// decodeEviction reads a policy/v1 Eviction, or a policy/v1beta1 one (the same
// fields), which older clients send.
func decodeEviction(body []byte, contentType string) (*policyv1.Eviction, error) {
	ev := &policyv1.Eviction{}
	_, err := decodeInto(body, contentType, evictionGVK, ev, validationIgnore)
	if err == nil {
		return ev, nil
	}
	old := &policyv1beta1.Eviction{}
	if _, err2 := decodeInto(body, contentType, evictionV1beta1GVK, old, validationIgnore); err2 == nil {
		return &policyv1.Eviction{ObjectMeta: old.ObjectMeta, DeleteOptions: old.DeleteOptions}, nil
	}
	return nil, err
}

// evict runs one eviction of the pod req names. It answers with the Status to
// send (Success, or the Failure upstream sends as a result rather than an
// error when several budgets match) or an error.
func (s *Server) evict(ctx context.Context, req request, ev *policyv1.Eviction, dryRun bool) (*metav1.Status, error) {
	if ev.Name != "" && ev.Name != req.name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	opts, err := evictionDeleteOptions(ev, dryRun)
	if err != nil {
		return nil, err
	}
	// Conflicts are retried unless the client named the resourceVersion it
	// wants deleted: then a conflict is its answer.
	retry := !hasResourceVersion(opts)

	var pod *corev1.Pod
	for try := 1; ; try++ {
		if pod, err = s.evictedPod(ctx, req); err != nil {
			return nil, err
		}
		if !canIgnoreBudget(pod) {
			break
		}
		// The pod's disruption is behind it (it has ended or is ending) or
		// ahead of it (it never ran): delete it, unless it has moved on.
		del := withPodPreconditions(opts, pod, mustEnforceResourceVersion(pod) && retry)
		err = s.markAndDelete(ctx, req, del)
		if err == nil {
			return evictionSuccess(), nil
		}
		if !retry || !apierrors.IsConflict(err) || try == maxEvictionTries {
			return nil, err
		}
	}

	pdbs, err := s.budgetsOf(pod)
	if err != nil {
		return nil, err
	}
	if len(pdbs) > 1 {
		return &metav1.Status{
			Status:  metav1.StatusFailure,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
			Code:    http.StatusInternalServerError,
		}, nil
	}
	unhealthyAllowed := false
	var pdbName string
	if len(pdbs) == 1 {
		pdb := pdbs[0]
		pdbName = pdb.Name
		if !podIsReady(pod) && unhealthyEvictable(pdb) {
			// An unready pod does not count as healthy: deleting it takes no
			// disruption, provided it is still unready when deleted.
			unhealthyAllowed = true
		} else if err := s.takeDisruption(ctx, pdb, pod.Name, len(opts.DryRun) > 0); err != nil {
			return nil, err
		}
	}

	del := withPodPreconditions(opts, pod, unhealthyAllowed)
	if err := s.markAndDelete(ctx, req, del); err != nil {
		if apierrors.IsConflict(err) && unhealthyAllowed && retry {
			// The pod changed (it may have become ready): let the client try again.
			return nil, budgetBeingProcessed(pdbName)
		}
		return nil, err
	}
	return evictionSuccess(), nil
}

func evictionSuccess() *metav1.Status {
	return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}
}

// evictionDeleteOptions are the eviction's deleteOptions with the request's
// dryRun, which must agree with theirs when both are given.
func evictionDeleteOptions(ev *policyv1.Eviction, dryRun bool) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if ev.DeleteOptions != nil {
		opts = ev.DeleteOptions.DeepCopy()
	}
	if opts.IgnoreStoreReadErrorWithClusterBreakingPotential != nil && *opts.IgnoreStoreReadErrorWithClusterBreakingPotential {
		return nil, apierrors.NewInvalid(evictionGVK.GroupKind(), ev.Name, field.ErrorList{field.Invalid(
			field.NewPath("deleteOptions", "ignoreStoreReadErrorWithClusterBreakingPotential"), true,
			"can not be set for pod eviction, try after removing the option")})
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: supported values: \"All\"", v))
		}
	}
	if dryRun {
		if len(opts.DryRun) == 0 {
			opts.DryRun = []string{metav1.DryRunAll}
		} else if !slices.Equal(opts.DryRun, []string{metav1.DryRunAll}) {
			return nil, apierrors.NewInternalError(fmt.Errorf("Non-matching dry-run options in request and content: %v and %v", []string{metav1.DryRunAll}, opts.DryRun))
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	return opts, nil
}

func hasResourceVersion(opts *metav1.DeleteOptions) bool {
	return opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
}

// withPodPreconditions makes the delete one of the pod that was checked: the
// same UID (not a namesake created since) and, when pinRV, the same
// resourceVersion (not one that has become ready since). Preconditions the
// client gave stay.
func withPodPreconditions(opts *metav1.DeleteOptions, pod *corev1.Pod, pinRV bool) *metav1.DeleteOptions {
	out := opts.DeepCopy()
	if out.Preconditions == nil {
		out.Preconditions = &metav1.Preconditions{}
	}
	if out.Preconditions.UID == nil {
		uid := pod.UID
		out.Preconditions.UID = &uid
	}
	if pinRV && out.Preconditions.ResourceVersion == nil {
		rv := pod.ResourceVersion
		out.Preconditions.ResourceVersion = &rv
	}
	return out
}

func (s *Server) evictedPod(ctx context.Context, req request) (*corev1.Pod, error) {
	e, err := s.getEntry(ctx, req)
	if err != nil {
		return nil, err
	}
	obj, err := e.object()
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a pod: %T", obj))
	}
	return pod, nil
}

// markAndDelete deletes an evicted pod, first marking it with the
// DisruptionTarget condition (as upstream does, for Jobs' pod failure
// policies and for users to see why it went). The preconditions are checked
// against the pod the condition is written to; a resourceVersion among them
// then moves to the version that write made.
func (s *Server) markAndDelete(ctx context.Context, req request, opts *metav1.DeleteOptions) error {
	pods := request{res: req.res, namespace: req.namespace, name: req.name}
	if len(opts.DryRun) == 0 {
		// The answer is read for its resourceVersion: JSON, whatever the client accepts.
		raw, _, err := s.updateWith(context.WithValue(ctx, answerKey{}, nil), pods, writeStatus, false, func(old runtime.Object) (runtime.Object, error) {
			pod := old.(*corev1.Pod)
			if err := checkEvictionPreconditions(pod, opts.Preconditions); err != nil {
				return nil, err
			}
			markDisruptionTarget(&pod.Status)
			return pod, nil
		})
		if err != nil {
			return err
		}
		if hasResourceVersion(opts) {
			var written metav1.PartialObjectMetadata
			if err := json.Unmarshal(raw, &written); err != nil || written.ResourceVersion == "" {
				return apierrors.NewInternalError(fmt.Errorf("reading the evicted pod's new resourceVersion: %v", err))
			}
			opts = opts.DeepCopy()
			opts.Preconditions.ResourceVersion = &written.ResourceVersion
		}
	}
	_, err := s.delete(ctx, pods, opts)
	return err
}

// checkEvictionPreconditions is upstream's check, with its messages, of an
// eviction's preconditions against the pod about to be marked.
func checkEvictionPreconditions(pod *corev1.Pod, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	gr := schema.GroupResource{Resource: "Pod"}
	if p.UID != nil && *p.UID != "" && *p.UID != pod.UID {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, pod.UID))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != pod.ResourceVersion {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, pod.ResourceVersion))
	}
	return nil
}

// markDisruptionTarget sets the pod's DisruptionTarget condition to say the
// eviction API is evicting it; the transition time moves only when the
// condition's status does.
func markDisruptionTarget(st *corev1.PodStatus) {
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: nowRFC3339()}
	for i := range st.Conditions {
		if st.Conditions[i].Type != cond.Type {
			continue
		}
		if st.Conditions[i].Status == cond.Status {
			cond.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = cond
		return
	}
	st.Conditions = append(st.Conditions, cond)
}

// canIgnoreBudget: a pod that has succeeded or failed, is already being
// deleted, or is still pending disrupts nothing more by going.
func canIgnoreBudget(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// mustEnforceResourceVersion: a pending pod must still be pending when it is
// deleted; a terminal or terminating one cannot become ready again.
func mustEnforceResourceVersion(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return pod.DeletionTimestamp == nil
}

func podIsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// unhealthyEvictable: the budget lets an unready pod go without taking a
// disruption, always (AlwaysAllow) or while the application has the healthy
// pods it needs (IfHealthyBudget, the default).
func unhealthyEvictable(pdb *policyv1.PodDisruptionBudget) bool {
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}

// budgetsOf are the budgets in the pod's namespace whose selector matches it.
func (s *Server) budgetsOf(pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	res := s.budgets()
	if res == nil {
		return nil, nil
	}
	entries, _ := s.cache.list(res, pod.Namespace, nil)
	var out []*policyv1.PodDisruptionBudget
	set := labels.Set(pod.Labels)
	for _, e := range entries {
		obj, err := e.object()
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		pdb, ok := obj.(*policyv1.PodDisruptionBudget)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(set) {
			continue // an invalid selector matches no pod
		}
		out = append(out, pdb)
	}
	return out, nil
}

func (s *Server) budgets() *Resource {
	return s.reg.Lookup(policyv1.SchemeGroupVersion.String(), "poddisruptionbudgets")
}

// takeDisruption checks that the budget allows one more disruption and, unless
// dryRun, takes it: disruptionsAllowed goes down by one and the pod is named
// in disruptedPods, so that the controller does not count it as healthy
// before its deletion shows. A lost race re-reads the budget and checks again.
func (s *Server) takeDisruption(ctx context.Context, pdb *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	if dryRun {
		return disruptionAllowed(pdb)
	}
	req := request{res: s.budgets(), namespace: pdb.Namespace, name: pdb.Name}
	_, _, err := s.updateWith(ctx, req, writeStatus, false, func(old runtime.Object) (runtime.Object, error) {
		cur := old.(*policyv1.PodDisruptionBudget)
		if err := disruptionAllowed(cur); err != nil {
			return nil, err
		}
		cur.Status.DisruptionsAllowed--
		if cur.Status.DisruptionsAllowed == 0 {
			setBudgetCondition(&cur.Status, metav1.ConditionFalse, policyv1.InsufficientPodsReason)
		}
		if cur.Status.DisruptedPods == nil {
			cur.Status.DisruptedPods = map[string]metav1.Time{}
		}
		cur.Status.DisruptedPods[podName] = metav1.Now()
		return cur, nil
	})
	if apierrors.IsConflict(err) {
		return apierrors.NewTimeoutError(fmt.Sprintf("couldn't update PodDisruptionBudget %q due to conflicts", pdb.Name), 10)
	}
	return err
}

// disruptionAllowed is upstream's verdict on a budget, with its messages.
func disruptionAllowed(pdb *policyv1.PodDisruptionBudget) error {
	st := &pdb.Status
	if st.ObservedGeneration < pdb.Generation {
		return budgetBeingProcessed(pdb.Name)
	}
	if st.DisruptionsAllowed < 0 {
		return budgetForbidden(pdb.Name, "pdb disruptions allowed is negative",
			"pdb disruptions allowed is negative")
	}
	if len(st.DisruptedPods) > maxDisruptedPods {
		return budgetForbidden(pdb.Name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
			"too many pending evictions not confirmed by PDB controller")
	}
	if st.DisruptionsAllowed > 0 {
		return nil
	}
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	var cond *metav1.Condition
	for i := range st.Conditions {
		if st.Conditions[i].Type == policyv1.DisruptionAllowedCondition {
			cond = &st.Conditions[i]
		}
	}
	failing := cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != ""
	var msg string
	switch {
	case failing && cond.Reason == policyv1.SyncFailedReason:
		// The counts are not to be trusted when the sync failed.
		msg = fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", pdb.Name, cond.Message)
	case st.CurrentHealthy <= st.DesiredHealthy:
		msg = fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, st.DesiredHealthy, st.CurrentHealthy)
	case failing:
		msg = fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", pdb.Name, cond.Reason, cond.Message)
	default:
		msg = fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name)
	}
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: msg})
	return err
}

// budgetBeingProcessed is the 429 for a budget whose status does not reflect
// its spec yet (or a pod that changed under an eviction).
func budgetBeingProcessed(name string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name),
	})
	return err
}

func budgetForbidden(name, reason, detail string) error {
	err := apierrors.NewForbidden(pdbGroupResource, name, errors.New(reason))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: %s", name, detail),
	})
	return err
}

// setBudgetCondition sets the DisruptionAllowed condition, moving its
// transition time only when its status changes.
func setBudgetCondition(st *policyv1.PodDisruptionBudgetStatus, status metav1.ConditionStatus, reason string) {
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: status, Reason: reason,
		ObservedGeneration: st.ObservedGeneration, LastTransitionTime: nowRFC3339()}
	for i := range st.Conditions {
		if st.Conditions[i].Type != cond.Type {
			continue
		}
		if st.Conditions[i].Status == status {
			cond.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = cond
		return
	}
	st.Conditions = append(st.Conditions, cond)
}
