package replication

import (
	"context"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/owners"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// NewReplicaSets is the ReplicaSet controller (apps/v1): the same loop as the
// ReplicationManager's, for set-based selectors. It registers its informers
// and handlers on factory; the caller starts the factory, then calls Run.
//
// It writes a ReplicaSet's status only: the annotations a Deployment keeps on
// its ReplicaSets (deployment.kubernetes.io/revision, desired-replicas,
// max-replicas) are the deployment controller's, and spec.replicas is the one
// number it follows.
func NewReplicaSets(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	inf := factory.Apps().V1().ReplicaSets()
	si := inf.Informer()
	// Filed under their controller's UID, as pods are: a Deployment's sets.
	owners.AddIndex(si)
	lister, api := inf.Lister(), client.AppsV1()
	k := typed[*appsv1.ReplicaSet]{
		wrap:     func(r *appsv1.ReplicaSet) set { return rsSet{r} },
		cached:   func(ns, name string) (*appsv1.ReplicaSet, error) { return lister.ReplicaSets(ns).Get(name) },
		cachedIn: func(ns string) ([]*appsv1.ReplicaSet, error) { return lister.ReplicaSets(ns).List(labels.Everything()) },
		read: func(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
			return api.ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		},
		writeStatus: func(ctx context.Context, r *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
			return api.ReplicaSets(r.Namespace).UpdateStatus(ctx, r, metav1.UpdateOptions{})
		},
		related: func(s set) []set { return siblings(si.GetIndexer(), s) },
	}
	return newController(client, factory, opts, si, k, kindInfo{
		gvk:       rsKind,
		name:      "replicaset",
		queue:     "replicaset",
		logKey:    "replicaset",
		component: "replicaset-controller",
		// Upstream's DeploymentReplicaSetTerminatingReplicas, on by default since 1.35.
		terminating: true,
	})
}

// rsSet is a ReplicaSet as a set.
type rsSet struct{ *appsv1.ReplicaSet }

func (r rsSet) object() runtime.Object   { return r.ReplicaSet }
func (r rsSet) meta() *metav1.ObjectMeta { return &r.ObjectMeta }

func (r rsSet) replicas() int32 { return ptr.Deref(r.Spec.Replicas, 1) }

func (r rsSet) minReadySeconds() int32 { return r.Spec.MinReadySeconds }

func (r rsSet) template() *corev1.PodTemplateSpec { return &r.Spec.Template }

func (r rsSet) selector() labels.Selector {
	sel := r.Spec.Selector
	if sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	return s
}

func isRSFailure(c appsv1.ReplicaSetCondition) bool {
	return c.Type == appsv1.ReplicaSetReplicaFailure
}

func (r rsSet) status() status {
	st := r.Status
	return status{
		replicas: st.Replicas, fullyLabeled: st.FullyLabeledReplicas, ready: st.ReadyReplicas, available: st.AvailableReplicas,
		terminating: st.TerminatingReplicas, observedGeneration: st.ObservedGeneration,
		failed: slices.ContainsFunc(st.Conditions, isRSFailure),
	}
}

func (r rsSet) withStatus(st status, now time.Time) set {
	next := r.DeepCopy()
	next.Status.Replicas, next.Status.FullyLabeledReplicas = st.replicas, st.fullyLabeled
	next.Status.ReadyReplicas, next.Status.AvailableReplicas = st.ready, st.available
	next.Status.TerminatingReplicas, next.Status.ObservedGeneration = st.terminating, st.observedGeneration
	next.Status.Conditions = withFailure(next.Status.Conditions, isRSFailure, st, func() appsv1.ReplicaSetCondition {
		return appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: st.failReason, Message: st.failMessage,
		}
	})
	return rsSet{next}
}

// siblings are the ReplicaSets that byController files under s's controller.
func siblings(byController cache.Indexer, s set) []set {
	ref := metav1.GetControllerOfNoCopy(s.meta())
	if ref == nil {
		return nil
	}
	objs, _ := byController.ByIndex(owners.Index, owners.ControlledKey(ref.UID))
	out := make([]set, 0, len(objs))
	for _, obj := range objs {
		if r, ok := obj.(*appsv1.ReplicaSet); ok && r.Namespace == s.meta().Namespace {
			out = append(out, rsSet{r})
		}
	}
	return out
}
