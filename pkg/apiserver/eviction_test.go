package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

const evictNS = "default"

// evictionEnv is an API server with every served kind on in-memory storage,
// reached by client-go as an admin; no controller runs, so tests write budget
// status as the disruption controller would.
type evictionEnv struct {
	t      *testing.T
	client kubernetes.Interface
	ctx    context.Context
}

func newEvictionEnv(t *testing.T) *evictionEnv {
	t.Helper()
	s := apiserver.New(apiserver.Config{Storage: memory.New(), Registry: registry.New(registry.Options{}.WithDefaults()),
		Tokens: map[string]apiserver.User{"admin": {Name: "admin", Groups: []string{"system:masters"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: ts.URL, BearerToken: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	e := &evictionEnv{t: t, client: client, ctx: ctx}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: evictNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

type podState func(*corev1.PodStatus)

func running(ready bool) podState {
	return func(st *corev1.PodStatus) {
		st.Phase = corev1.PodRunning
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	}
}

func phase(p corev1.PodPhase) podState {
	return func(st *corev1.PodStatus) { st.Phase = p }
}

// pod creates a pod labelled app=web in the given state.
func (e *evictionEnv) pod(name string, state podState) *corev1.Pod {
	e.t.Helper()
	pods := e.client.CoreV1().Pods(evictNS)
	p, err := pods.Create(e.ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	state(&p.Status)
	if p, err = pods.UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// budget creates a budget over app=web with the status the disruption
// controller would have written (observedGeneration current unless stale).
func (e *evictionEnv) budget(name string, st policyv1.PodDisruptionBudgetStatus, stale bool, tweak ...func(*policyv1.PodDisruptionBudget)) {
	e.t.Helper()
	pdbs := e.client.PolicyV1().PodDisruptionBudgets(evictNS)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(st.DesiredHealthy)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	for _, f := range tweak {
		f(pdb)
	}
	pdb, err := pdbs.Create(e.ctx, pdb, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	st.ObservedGeneration = pdb.Generation
	if stale {
		st.ObservedGeneration = 0
	}
	reason, status := policyv1.InsufficientPodsReason, metav1.ConditionFalse
	if st.DisruptionsAllowed > 0 {
		reason, status = policyv1.SufficientPodsReason, metav1.ConditionTrue
	}
	st.Conditions = []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: status, Reason: reason,
		LastTransitionTime: metav1.Now(), ObservedGeneration: st.ObservedGeneration}}
	pdb.Status = st
	if _, err := pdbs.UpdateStatus(e.ctx, pdb, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *evictionEnv) evict(name string) error {
	return e.client.PolicyV1().Evictions(evictNS).Evict(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: evictNS}})
}

func (e *evictionEnv) exists(name string) bool {
	_, err := e.client.CoreV1().Pods(evictNS).Get(e.ctx, name, metav1.GetOptions{})
	return err == nil
}

func (e *evictionEnv) status(name string) policyv1.PodDisruptionBudgetStatus {
	e.t.Helper()
	pdb, err := e.client.PolicyV1().PodDisruptionBudgets(evictNS).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return pdb.Status
}

// wantRefused checks an eviction's error: its code, message and budget cause.
func wantRefused(t *testing.T, err error, code int32, message, cause string) {
	t.Helper()
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		t.Fatalf("eviction: %v, want HTTP %d %q", err, code, message)
	}
	st := se.Status()
	if st.Code != code || st.Message != message {
		t.Fatalf("eviction: HTTP %d %q, want %d %q", st.Code, st.Message, code, message)
	}
	if cause == "" {
		return
	}
	if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != policyv1.DisruptionBudgetCause || st.Details.Causes[0].Message != cause {
		t.Fatalf("eviction causes %+v, want one DisruptionBudget %q", st.Details, cause)
	}
}

const violates = "Cannot evict pod as it would violate the pod's disruption budget."

// TestEvictionTakesADisruption: an eviction the budget allows takes one
// disruption and names the pod; the next is refused with upstream's 429.
func TestEvictionTakesADisruption(t *testing.T) {
	e := newEvictionEnv(t)
	for _, n := range []string{"a", "b", "c"} {
		e.pod(n, running(true))
	}
	e.budget("web", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3, DisruptionsAllowed: 1}, false)

	if err := e.evict("a"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	if e.exists("a") {
		t.Fatal("the evicted pod is still there")
	}
	st := e.status("web")
	if st.DisruptionsAllowed != 0 || len(st.DisruptedPods) != 1 || st.DisruptedPods["a"].Time.IsZero() {
		t.Fatalf("after the eviction: disruptionsAllowed %d, disruptedPods %v; want 0 and a", st.DisruptionsAllowed, st.DisruptedPods)
	}
	if c := st.Conditions[0]; c.Status != metav1.ConditionFalse || c.Reason != policyv1.InsufficientPodsReason {
		t.Fatalf("condition %s %s, want False InsufficientPods", c.Status, c.Reason)
	}

	err := e.evict("b")
	// Until the controller recounts, the budget's counts are the old ones.
	wantRefused(t, err, http.StatusTooManyRequests, violates, "The disruption budget web does not allow evicting pods currently")
	if !e.exists("b") {
		t.Fatal("a refused eviction deleted the pod")
	}
}

// TestEvictionRefusals: upstream's answers for budgets that cannot decide.
func TestEvictionRefusals(t *testing.T) {
	t.Run("stale budget", func(t *testing.T) {
		e := newEvictionEnv(t)
		e.pod("a", running(true))
		e.budget("web", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 0, ExpectedPods: 1, DisruptionsAllowed: 1}, true)
		// client-go itself retries a 429 with Retry-After (10 times 10s): ask once.
		res := e.client.CoreV1().RESTClient().Post().Namespace(evictNS).Resource("pods").Name("a").SubResource("eviction").
			MaxRetries(0).Body([]byte(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}}`)).Do(e.ctx)
		wantRefused(t, res.Error(), http.StatusTooManyRequests, violates, "The disruption budget web is still being processed by the server.")
		var code int
		if res.StatusCode(&code); code != http.StatusTooManyRequests {
			t.Fatalf("HTTP %d", code)
		}
	})
	t.Run("two budgets", func(t *testing.T) {
		e := newEvictionEnv(t)
		e.pod("a", running(true))
		e.budget("one", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 1}, false)
		e.budget("two", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 1}, false)
		wantRefused(t, e.evict("a"), http.StatusInternalServerError, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.", "")
		if !e.exists("a") {
			t.Fatal("the pod was deleted")
		}
	})
	t.Run("sync failed", func(t *testing.T) {
		e := newEvictionEnv(t)
		e.pod("a", running(true))
		e.budget("web", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 1}, false)
		pdbs := e.client.PolicyV1().PodDisruptionBudgets(evictNS)
		pdb, _ := pdbs.Get(e.ctx, "web", metav1.GetOptions{})
		pdb.Status.Conditions[0].Reason, pdb.Status.Conditions[0].Message = policyv1.SyncFailedReason, `found no controllers for pod "a"`
		if _, err := pdbs.UpdateStatus(e.ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, e.evict("a"), http.StatusTooManyRequests, violates,
			`The disruption budget web does not allow evicting pods currently because it failed sync: found no controllers for pod "a"`)
	})
	t.Run("name mismatch", func(t *testing.T) {
		e := newEvictionEnv(t)
		e.pod("a", running(true))
		err := e.client.CoreV1().RESTClient().Post().Namespace(evictNS).Resource("pods").Name("a").SubResource("eviction").
			Body([]byte(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b"}}`)).Do(e.ctx).Error()
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "name in URL does not match name in Eviction object") {
			t.Fatalf("eviction of a named b: %v", err)
		}
	})
}

// TestEvictionWithoutBudgetCheck: pods whose going disrupts nothing more are
// deleted whatever the budget says, and unready pods as the budget's
// unhealthyPodEvictionPolicy says.
func TestEvictionWithoutBudgetCheck(t *testing.T) {
	full := policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2, DesiredHealthy: 2, ExpectedPods: 3}
	short := policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 2, ExpectedPods: 3}
	alwaysAllow := func(p *policyv1.PodDisruptionBudget) {
		p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	}
	cases := []struct {
		name    string
		state   podState
		budget  policyv1.PodDisruptionBudgetStatus
		tweak   []func(*policyv1.PodDisruptionBudget)
		evicted bool
	}{
		{"succeeded", phase(corev1.PodSucceeded), short, nil, true},
		{"failed", phase(corev1.PodFailed), short, nil, true},
		{"pending", phase(corev1.PodPending), short, nil, true},
		{"unready, budget healthy (IfHealthyBudget)", running(false), full, nil, true},
		{"unready, budget short (IfHealthyBudget)", running(false), short, nil, false},
		{"unready, budget short, AlwaysAllow", running(false), short, []func(*policyv1.PodDisruptionBudget){alwaysAllow}, true},
		{"ready, no disruption allowed", running(true), full, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEvictionEnv(t)
			e.pod("a", tc.state)
			e.budget("web", tc.budget, false, tc.tweak...)
			err := e.evict("a")
			if tc.evicted != (err == nil) || tc.evicted == e.exists("a") {
				t.Fatalf("eviction: %v, pod still there: %v; want evicted %v", err, e.exists("a"), tc.evicted)
			}
			if !tc.evicted && !apierrors.IsTooManyRequests(err) {
				t.Fatalf("eviction: %v, want 429", err)
			}
			if st := e.status("web"); st.DisruptionsAllowed != 0 || len(st.DisruptedPods) != 0 {
				t.Fatalf("budget changed: %d allowed, disrupted %v", st.DisruptionsAllowed, st.DisruptedPods)
			}
		})
	}
}

// TestEvictionDryRunAndV1beta1: a dry run checks without taking anything or
// deleting; a policy/v1beta1 Eviction (older clients) works as a v1 one.
func TestEvictionDryRunAndV1beta1(t *testing.T) {
	e := newEvictionEnv(t)
	e.pod("a", running(true))
	e.pod("b", running(true))
	e.budget("web", policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2, DisruptionsAllowed: 1}, false)

	err := e.client.PolicyV1().Evictions(evictNS).Evict(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: evictNS},
		DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if st := e.status("web"); !e.exists("a") || st.DisruptionsAllowed != 1 || len(st.DisruptedPods) != 0 {
		t.Fatalf("a dry run changed something: pod there %v, budget %d allowed, %v", e.exists("a"), st.DisruptionsAllowed, st.DisruptedPods)
	}

	if err := e.client.PolicyV1beta1().Evictions(evictNS).Evict(e.ctx, &policyv1beta1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: evictNS}}); err != nil {
		t.Fatalf("v1beta1 eviction: %v", err)
	}
	if e.exists("a") {
		t.Fatal("the pod evicted through v1beta1 is still there")
	}
	wantRefused(t, e.evict("b"), http.StatusTooManyRequests, violates, "The disruption budget web does not allow evicting pods currently")
}

// TestEvictionNoBudget: with no budget, an eviction is a delete, answered
// 201 with a Success Status.
func TestEvictionNoBudget(t *testing.T) {
	e := newEvictionEnv(t)
	e.pod("a", running(true))
	res := e.client.CoreV1().RESTClient().Post().Namespace(evictNS).Resource("pods").Name("a").SubResource("eviction").
		Body([]byte(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}}`)).Do(e.ctx)
	var code int
	res.StatusCode(&code)
	raw, err := res.Raw()
	if err != nil || code != http.StatusCreated || !strings.Contains(string(raw), `"status":"Success"`) {
		t.Fatalf("eviction: HTTP %d %s %v", code, raw, err)
	}
	if e.exists("a") {
		t.Fatal("the pod is still there")
	}
}

// TestEvictionMarksDisruptionTarget: an evicted pod on a node is marked with
// the DisruptionTarget condition and left terminating for its node; a
// resourceVersion precondition is checked against the pod (upstream's
// message) and still holds after the mark.
func TestEvictionMarksDisruptionTarget(t *testing.T) {
	e := newEvictionEnv(t)
	pods := e.client.CoreV1().Pods(evictNS)
	onNode := func(name string) *corev1.Pod {
		p, err := pods.Create(e.ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running(true)(&p.Status)
		if p, err = pods.UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	evictAt := func(p *corev1.Pod, rv string) error {
		return e.client.PolicyV1().Evictions(evictNS).Evict(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: evictNS},
			DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}}})
	}

	a := onNode("a")
	err := evictAt(a, "1")
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ("+a.ResourceVersion+"). The object might have been modified") {
		t.Fatalf("eviction with a stale resourceVersion: %v", err)
	}
	if err := evictAt(a, a.ResourceVersion); err != nil {
		t.Fatalf("eviction with the current resourceVersion: %v", err)
	}
	got, err := pods.Get(e.ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the evicted pod on a node is gone at once: %v", err)
	}
	if got.DeletionTimestamp == nil {
		t.Fatal("the evicted pod is not terminating")
	}
	var cond *corev1.PodCondition
	for i := range got.Status.Conditions {
		if got.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &got.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "EvictionByEvictionAPI" || cond.Message != "Eviction API: evicting" {
		t.Fatalf("DisruptionTarget condition %+v, want True EvictionByEvictionAPI", cond)
	}
}
