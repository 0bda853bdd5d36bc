package deployment_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/deployment"
)

const ns = "default"

// env is a fake clientset that stores objects as upstream's API server would
// where the controller depends on it, the Deployment controller running on
// it, and a log of the writes that reached it. Nothing runs the ReplicaSet
// controller: tests set ReplicaSets' status themselves, as it would.
type env struct {
	t      testing.TB
	client *fake.Clientset

	mu      sync.Mutex
	rv      int64
	created time.Time // creation timestamps, a second apart, so ages are clear
	journal []string  // writes, in order: "create rs NAME 3", "scale rs NAME 2", ...
	sizes   map[string]int32
	maxSeen map[string]int32 // per Deployment: the most pods its ReplicaSets were asked for at once
}

// newEnv starts the Deployment controller on a fake clientset whose reactors
// store objects as the API server does: UIDs, creation times, generation
// bumped by spec changes, resourceVersion compare-and-swap, /status writing
// only status (and, for Deployments, the annotations), main updates keeping
// status.
func newEnv(t testing.TB, opts deployment.Options) *env {
	t.Helper()
	e := &env{
		t:       t,
		client:  fake.NewClientset(),
		created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		sizes:   map[string]int32{},
		maxSeen: map[string]int32{},
	}
	for _, res := range []string{"deployments", "replicasets", "pods"} {
		e.client.PrependReactor("create", res, e.create)
		e.client.PrependReactor("update", res, e.update)
		e.client.PrependReactor("patch", res, e.patch)
	}
	e.client.PrependReactor("delete", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		e.note("delete rs " + a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})

	factory := informers.NewSharedInformerFactory(e.client, 0)
	ctrl := deployment.New(e.client, factory, opts)
	controllertest.Run(t, factory, ctrl)
	return e
}

func (e *env) nextRV() string {
	e.rv++
	return strconv.FormatInt(e.rv, 10)
}

func (e *env) note(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.journal = append(e.journal, s)
}

func (e *env) writes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.journal)
}

// recordSize logs a ReplicaSet's new size and tracks the most pods its
// Deployment's ReplicaSets were asked for at once.
func (e *env) recordSize(rs *appsv1.ReplicaSet, verb string) {
	n := ptr.Deref(rs.Spec.Replicas, 1)
	if old, ok := e.sizes[rs.Name]; ok && old == n && verb == "scale" {
		return
	}
	e.sizes[rs.Name] = n
	e.journal = append(e.journal, fmt.Sprintf("%s rs %s %d", verb, rs.Name, n))
	if ref := metav1.GetControllerOf(rs); ref != nil {
		var total int32
		for name, size := range e.sizes {
			if strings.HasPrefix(name, ref.Name+"-") {
				total += size
			}
		}
		e.maxSeen[ref.Name] = max(e.maxSeen[ref.Name], total)
	}
}

func (e *env) create(a k8stesting.Action) (bool, runtime.Object, error) {
	obj := a.(k8stesting.CreateAction).GetObject()
	m, _ := meta.Accessor(obj)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.created = e.created.Add(time.Second)
	m.SetUID(types.UID(fmt.Sprintf("uid-%d", e.rv+1)))
	m.SetCreationTimestamp(metav1.NewTime(e.created))
	m.SetGeneration(1)
	m.SetResourceVersion(e.nextRV())
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		if _, err := e.client.Tracker().Get(a.GetResource(), a.GetNamespace(), rs.Name); err == nil {
			return true, nil, apierrors.NewAlreadyExists(a.GetResource().GroupResource(), rs.Name)
		}
		e.recordSize(rs, "create")
	}
	return false, nil, nil // the tracker stores it
}

func (e *env) update(a k8stesting.Action) (bool, runtime.Object, error) {
	in := a.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
	e.mu.Lock()
	defer e.mu.Unlock()
	m, _ := meta.Accessor(in)
	cur, err := controllertest.Stored(e.client.Tracker(), a.(k8stesting.UpdateAction))
	if err != nil {
		return true, nil, err
	}
	cm, _ := meta.Accessor(cur)
	status := a.GetSubresource() == "status"
	switch next := in.(type) {
	case *appsv1.Deployment:
		old := cur.(*appsv1.Deployment)
		if status {
			next.Spec, next.Labels = old.Spec, old.Labels
			c, was := condition(next, appsv1.DeploymentProgressing), condition(old, appsv1.DeploymentProgressing)
			if c != nil && (was == nil || c.Reason != was.Reason || c.Message != was.Message) {
				e.journal = append(e.journal, fmt.Sprintf("deployment %s Progressing %s: %s", next.Name, c.Reason, c.Message))
			}
		} else {
			next.Status = old.Status
			if !equality.Semantic.DeepEqual(next.Spec, old.Spec) || !maps.Equal(next.Annotations, old.Annotations) {
				next.Generation = old.Generation + 1
			}
		}
	case *appsv1.ReplicaSet:
		old := cur.(*appsv1.ReplicaSet)
		if status {
			next.Spec = old.Spec
		} else {
			next.Status = old.Status
			if !equality.Semantic.DeepEqual(next.Spec, old.Spec) {
				next.Generation = old.Generation + 1
			}
			e.recordSize(next, "scale")
		}
	}
	m.SetUID(cm.GetUID())
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	m.SetResourceVersion(e.nextRV())
	if err := e.client.Tracker().Update(a.GetResource(), in, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	return true, in, nil
}

// patch applies a strategic merge or merge patch (what the controller sends
// for ownerReferences), refusing it when its metadata.uid names another object.
func (e *env) patch(a k8stesting.Action) (bool, runtime.Object, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return controllertest.Patch(e.client.Tracker(), a.(k8stesting.PatchAction), e.nextRV)
}

// template is the pod template the tests roll out; its hashes below were
// computed by upstream's controller.ComputeHash (k8s.io/kubernetes v1.37.2).
func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

const (
	v1Image = "luksa/kubia:v1"
	v2Image = "luksa/kubia:v2"
	// upstream's pod-template-hash of template(v1Image), with no collision
	// count and with a count of 1, and of template(v2Image).
	v1Hash           = "65bbffd9b6"
	v1HashCollision1 = "848b66c775"
	v2Hash           = "d4699c479"
)

// newDeployment is a Deployment "web" as the API server stores it after
// defaulting (RollingUpdate 25%/25%, revisionHistoryLimit 10, a 600 s
// progress deadline).
func newDeployment(replicas int32, image string) *appsv1.Deployment {
	quarter := intstr.FromString("25%")
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(image),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &quarter, MaxUnavailable: &quarter},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

func (e *env) createDeployment(d *appsv1.Deployment) *appsv1.Deployment {
	e.t.Helper()
	out, err := e.client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating deployment %s: %v", d.Name, err)
	}
	return out
}

// updateDeployment applies change to the stored Deployment, as kubectl edit,
// scale, set image, rollout pause/resume/restart/undo would.
func (e *env) updateDeployment(name string, change func(*appsv1.Deployment)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := e.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(d)
		_, err = e.client.AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("updating deployment %s: %v", name, err)
	}
}

func (e *env) deployment(name string) *appsv1.Deployment {
	e.t.Helper()
	d, err := e.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("getting deployment %s: %v", name, err)
	}
	return d
}

// replicaSets are the stored ReplicaSets, oldest first.
func (e *env) replicaSets() []appsv1.ReplicaSet {
	e.t.Helper()
	list, err := e.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("listing replica sets: %v", err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].CreationTimestamp.Before(&list.Items[j].CreationTimestamp)
	})
	return list.Items
}

func (e *env) replicaSet(name string) *appsv1.ReplicaSet {
	e.t.Helper()
	rs, err := e.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("getting replica set %s: %v", name, err)
	}
	return rs
}

// setStatus writes a ReplicaSet's status as the ReplicaSet controller would
// once it has seen its current spec: active pods, of which available are
// ready and available.
func (e *env) setStatus(name string, active, available int32) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rs, err := e.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rs.Status = appsv1.ReplicaSetStatus{
			Replicas: active, FullyLabeledReplicas: active, ReadyReplicas: available, AvailableReplicas: available,
			TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: rs.Generation,
		}
		_, err = e.client.AppsV1().ReplicaSets(ns).UpdateStatus(context.Background(), rs, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("setting status of replica set %s: %v", name, err)
	}
	e.note(fmt.Sprintf("status rs %s %d/%d", name, available, active))
}

// settle makes every ReplicaSet's pods what it asks for, all available.
func (e *env) settle() {
	e.t.Helper()
	for _, rs := range e.replicaSets() {
		n := ptr.Deref(rs.Spec.Replicas, 1)
		if rs.Status.Replicas != n || rs.Status.AvailableReplicas != n || rs.Status.ObservedGeneration != rs.Generation {
			e.setStatus(rs.Name, n, n)
		}
	}
}

// sizes describes the ReplicaSets as "NAME=SIZE ..." (oldest first).
func (e *env) sizesNow() string {
	var parts []string
	for _, rs := range e.replicaSets() {
		parts = append(parts, fmt.Sprintf("%s=%d", rs.Name, ptr.Deref(rs.Spec.Replicas, 1)))
	}
	return strings.Join(parts, " ")
}

// waitSizes waits until the ReplicaSets (oldest first) are asked for want.
func (e *env) waitSizes(want ...int32) {
	e.t.Helper()
	controllertest.Eventually(e.t, fmt.Sprintf("replica set sizes %v", want), func() (bool, string) {
		rss := e.replicaSets()
		if len(rss) != len(want) {
			return false, e.sizesNow()
		}
		for i, rs := range rss {
			if ptr.Deref(rs.Spec.Replicas, 1) != want[i] {
				return false, e.sizesNow()
			}
		}
		return true, ""
	})
}

// waitObserved waits until the Deployment's status is of its current
// generation and passes ok.
func (e *env) waitObserved(name string, ok func(*appsv1.Deployment) bool) *appsv1.Deployment {
	e.t.Helper()
	var d *appsv1.Deployment
	controllertest.Eventually(e.t, "deployment "+name+" status", func() (bool, string) {
		d = e.deployment(name)
		return d.Status.ObservedGeneration == d.Generation && ok(d),
			fmt.Sprintf("generation %d, annotations %v, status %+v; replica sets %s", d.Generation, d.Annotations, d.Status, e.sizesNow())
	})
	return d
}

// rolledOut is what `kubectl rollout status` waits for.
func rolledOut(d *appsv1.Deployment) bool {
	n := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.UpdatedReplicas == n && d.Status.Replicas == n && d.Status.AvailableReplicas == n
}

// rollOut settles ReplicaSets until the Deployment has rolled out.
func (e *env) rollOut(name string) *appsv1.Deployment {
	e.t.Helper()
	var d *appsv1.Deployment
	controllertest.Eventually(e.t, "deployment "+name+" to roll out", func() (bool, string) {
		e.settle()
		d = e.deployment(name)
		return d.Status.ObservedGeneration == d.Generation && rolledOut(d),
			fmt.Sprintf("status %+v; replica sets %s", d.Status, e.sizesNow())
	})
	return d
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// hasCondition reports a condition with this status, reason and message.
func hasCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string) bool {
	c := condition(d, t)
	return c != nil && c.Status == status && c.Reason == reason && c.Message == message
}
