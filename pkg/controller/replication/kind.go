package replication

import (
	"context"
	"iter"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// A set is one object that keeps replicas of a pod template running: a
// ReplicationController or a ReplicaSet. Its implementations are a pointer to
// the cached API object, so making one or passing it around allocates nothing.
// A set is read-only: it belongs to the informer's cache.
type set interface {
	// object is the API object, for events.
	object() runtime.Object
	meta() *metav1.ObjectMeta
	replicas() int32
	minReadySeconds() int32
	// selector is nil when the set may act on no pods: its selector is empty
	// (it would match every pod in the namespace; the API refuses it) or
	// invalid.
	selector() labels.Selector
	template() *corev1.PodTemplateSpec
	status() status
	// withStatus is a copy of the set carrying st: its counts, and the
	// ReplicaFailure condition added (as of now) or dropped.
	withStatus(st status, now time.Time) set
}

// A kind is one API kind of set: where its objects are cached and how they are
// read and written through the API.
type kind interface {
	// of is the set obj holds, if it is an object of this kind.
	of(obj any) (set, bool)
	get(ns, name string) (set, error)
	list(ns string) iter.Seq[set]
	// fetch reads the set from the API, not the cache.
	fetch(ctx context.Context, ns, name string) (set, error)
	updateStatus(ctx context.Context, s set) (set, error)
	// siblings are the sets that share s's controller (a Deployment's
	// ReplicaSets), s among them; none when s has no controller.
	siblings(s set) []set
}

// typed is a kind made of one API type's calls: its lister's and its client's,
// and how an object of it is a set.
type typed[T runtime.Object] struct {
	wrap        func(T) set
	cached      func(ns, name string) (T, error)
	cachedIn    func(ns string) ([]T, error)
	read        func(ctx context.Context, ns, name string) (T, error)
	writeStatus func(ctx context.Context, obj T) (T, error)
	// related are the siblings; nil for a kind whose objects have no controller.
	related func(s set) []set
}

func (k typed[T]) of(obj any) (set, bool) {
	t, ok := obj.(T)
	if !ok {
		return nil, false
	}
	return k.wrap(t), true
}

func (k typed[T]) lift(t T, err error) (set, error) {
	if err != nil {
		return nil, err
	}
	return k.wrap(t), nil
}

func (k typed[T]) get(ns, name string) (set, error) { return k.lift(k.cached(ns, name)) }

func (k typed[T]) list(ns string) iter.Seq[set] {
	return func(yield func(set) bool) {
		list, _ := k.cachedIn(ns)
		for _, t := range list {
			if !yield(k.wrap(t)) {
				return
			}
		}
	}
}

func (k typed[T]) fetch(ctx context.Context, ns, name string) (set, error) {
	return k.lift(k.read(ctx, ns, name))
}

func (k typed[T]) updateStatus(ctx context.Context, s set) (set, error) {
	return k.lift(k.writeStatus(ctx, s.object().(T)))
}

func (k typed[T]) siblings(s set) []set {
	if k.related == nil {
		return nil
	}
	return k.related(s)
}

// kindInfo is what tells the kinds apart in the API, the logs and the events.
type kindInfo struct {
	gvk schema.GroupVersionKind
	// name names the controller in its logs; queue names its workqueue.
	name, queue string
	// logKey is the key its logs give a set's namespace/name under.
	logKey string
	// component is the source of its events.
	component string
	// terminating: the kind's status counts the pods being deleted.
	terminating bool
}

// status is a set's status, whatever its kind.
type status struct {
	replicas, fullyLabeled, ready, available int32
	terminating                              *int32
	observedGeneration                       int64
	// failed: the ReplicaFailure condition is (to be) there. A condition that
	// is there already is kept as it is, so only a new one needs the reason and
	// message.
	failed                  bool
	failReason, failMessage string
}

// same reports whether writing b over a would change nothing.
func (a status) same(b status) bool {
	return a.replicas == b.replicas && a.fullyLabeled == b.fullyLabeled && a.ready == b.ready &&
		a.available == b.available && ptr.Equal(a.terminating, b.terminating) &&
		a.observedGeneration == b.observedGeneration && a.failed == b.failed
}

// withFailure adds the ReplicaFailure condition to conds, or drops it, as st
// says; isFailure and failure are the kind's own condition type's.
func withFailure[C any](conds []C, isFailure func(C) bool, st status, failure func() C) []C {
	has := slices.ContainsFunc(conds, isFailure)
	switch {
	case st.failed && !has:
		return append(conds, failure())
	case !st.failed && has:
		conds = slices.DeleteFunc(conds, isFailure)
		if len(conds) == 0 {
			return nil
		}
	}
	return conds
}

func keyOf(s set) string {
	m := s.meta()
	return m.Namespace + "/" + m.Name
}

// refersTo reports whether an ownerReference names an object of the kind gvk
// (in any version of its group, as upstream resolves it).
func refersTo(ref *metav1.OwnerReference, gvk schema.GroupVersionKind) bool {
	if ref.Kind != gvk.Kind {
		return false
	}
	group, _, hasGroup := strings.Cut(ref.APIVersion, "/")
	if !hasGroup {
		group = ""
	}
	return group == gvk.Group
}
