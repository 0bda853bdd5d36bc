package replication

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

var rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")

// New is the ReplicationManager: it registers its informers and handlers on
// factory; the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	inf := factory.Core().V1().ReplicationControllers()
	lister, api := inf.Lister(), client.CoreV1()
	k := typed[*corev1.ReplicationController]{
		wrap: func(r *corev1.ReplicationController) set { return rcSet{r} },
		cached: func(ns, name string) (*corev1.ReplicationController, error) {
			return lister.ReplicationControllers(ns).Get(name)
		},
		cachedIn: func(ns string) ([]*corev1.ReplicationController, error) {
			return lister.ReplicationControllers(ns).List(labels.Everything())
		},
		read: func(ctx context.Context, ns, name string) (*corev1.ReplicationController, error) {
			return api.ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
		},
		writeStatus: func(ctx context.Context, r *corev1.ReplicationController) (*corev1.ReplicationController, error) {
			return api.ReplicationControllers(r.Namespace).UpdateStatus(ctx, r, metav1.UpdateOptions{})
		},
		// An RC has no controller to share.
	}
	return newController(client, factory, opts, inf.Informer(), k, kindInfo{
		gvk:       rcKind,
		name:      "replication",
		queue:     "replicationmanager",
		logKey:    "rc",
		component: "replication-controller",
		// The v1 API has no status.terminatingReplicas (upstream leaves it out too).
		terminating: false,
	})
}

// rcSet is a ReplicationController as a set.
type rcSet struct{ *corev1.ReplicationController }

func (r rcSet) object() runtime.Object   { return r.ReplicationController }
func (r rcSet) meta() *metav1.ObjectMeta { return &r.ObjectMeta }

func (r rcSet) replicas() int32 { return ptr.Deref(r.Spec.Replicas, 1) }

func (r rcSet) minReadySeconds() int32 { return r.Spec.MinReadySeconds }

func (r rcSet) template() *corev1.PodTemplateSpec { return r.Spec.Template }

// selector is spec.selector or, when that is empty, the template's labels, as
// the API defaults it.
func (r rcSet) selector() labels.Selector {
	sel := r.Spec.Selector
	if len(sel) == 0 && r.Spec.Template != nil {
		sel = r.Spec.Template.Labels
	}
	if len(sel) == 0 {
		return nil
	}
	return labels.SelectorFromSet(sel)
}

func isRCFailure(c corev1.ReplicationControllerCondition) bool {
	return c.Type == corev1.ReplicationControllerReplicaFailure
}

func (r rcSet) status() status {
	st := r.Status
	return status{
		replicas: st.Replicas, fullyLabeled: st.FullyLabeledReplicas, ready: st.ReadyReplicas, available: st.AvailableReplicas,
		observedGeneration: st.ObservedGeneration,
		failed:             slices.ContainsFunc(st.Conditions, isRCFailure),
	}
}

func (r rcSet) withStatus(st status, now time.Time) set {
	next := r.DeepCopy()
	next.Status.Replicas, next.Status.FullyLabeledReplicas = st.replicas, st.fullyLabeled
	next.Status.ReadyReplicas, next.Status.AvailableReplicas = st.ready, st.available
	next.Status.ObservedGeneration = st.observedGeneration
	next.Status.Conditions = withFailure(next.Status.Conditions, isRCFailure, st, func() corev1.ReplicationControllerCondition {
		return corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: st.failReason, Message: st.failMessage,
		}
	})
	return rcSet{next}
}
