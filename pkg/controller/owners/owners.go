// Package owners indexes an informer's objects by their controller: each
// object is filed under the UID of the object that controls it, or under its
// namespace when nothing does (an orphan some controller may adopt), so a
// control loop reads its own objects, and the orphans it could adopt, without
// scanning every object of their kind. One index serves every control loop
// that shares the informer. It must not decide ownership (package claim
// adopts and releases) nor talk to the API.
package owners

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// Index is the name of the index AddIndex adds.
const Index = "skiff.controller/owner"

// ControlledKey is the index key of the objects the object of UID uid controls.
func ControlledKey(uid types.UID) string { return "uid/" + string(uid) }

// OrphanKey is the index key of the objects of namespace ns that nothing controls.
func OrphanKey(ns string) string { return "orphan/" + ns }

func keys(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
		return []string{ControlledKey(ref.UID)}, nil
	}
	return []string{OrphanKey(m.GetNamespace())}, nil
}

// AddIndex adds Index to inf unless it has it already: informers are shared
// by the control loops of a factory. It must be called before the informer
// starts.
func AddIndex(inf cache.SharedIndexInformer) {
	if _, ok := inf.GetIndexer().GetIndexers()[Index]; ok {
		return
	}
	if err := inf.AddIndexers(cache.Indexers{Index: keys}); err != nil {
		// Only possible when the informer was started first: a wiring bug.
		panic(fmt.Sprintf("adding the %s index: %v", Index, err))
	}
}

// ControlledBy are the objects of idx that owner controls. (An owner
// reference names an object of its own namespace: one from another namespace
// that names owner's UID is not owner's.)
func ControlledBy[T metav1.Object](idx cache.Indexer, owner metav1.Object) []T {
	return byKey[T](idx, ControlledKey(owner.GetUID()), owner.GetNamespace())
}

// Orphans are the objects of idx in namespace ns that nothing controls.
func Orphans[T metav1.Object](idx cache.Indexer, ns string) []T {
	return byKey[T](idx, OrphanKey(ns), ns)
}

func byKey[T metav1.Object](idx cache.Indexer, key, ns string) []T {
	objs, _ := idx.ByIndex(Index, key)
	out := make([]T, 0, len(objs))
	for _, obj := range objs {
		if t := obj.(T); t.GetNamespace() == ns {
			out = append(out, t)
		}
	}
	return out
}
