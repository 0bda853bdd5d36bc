package garbagecollector

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// kindOf is the watched kind an ownerReference names, by group and kind (any
// version of a kind is the same object), or nil.
func (c *Controller) kindOf(ref metav1.OwnerReference) *kind {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil
	}
	return c.byGK[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
}

// ownerKey is the cache key of the owner a reference names: owners live in the
// dependent's namespace unless their kind is cluster-scoped. ok is false when
// the reference cannot name anything (a cluster-scoped dependent pointing at a
// namespaced kind).
func ownerKey(owner *kind, dependent *kind, depNamespace, name string) (string, bool) {
	if !owner.Namespaced {
		return name, true
	}
	if !dependent.Namespaced {
		return "", false
	}
	return depNamespace + "/" + name, true
}

// cachedOwner is the owner a reference names as the caches know it. ok is false
// when the caches do not hold it (it may still exist: caches lag) and also when
// its kind is not watched (so the caller looks closer; processDelete then
// treats it as present).
func (c *Controller) cachedOwner(dk *kind, dep metav1.Object, ref metav1.OwnerReference) (metav1.Object, bool) {
	ownerKind := c.kindOf(ref)
	if ownerKind == nil {
		return nil, false
	}
	key, valid := ownerKey(ownerKind, dk, dep.GetNamespace(), ref.Name)
	if !valid {
		return nil, false
	}
	obj, exists, err := ownerKind.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	m := accessor(obj)
	if m == nil || m.GetUID() != ref.UID {
		return nil, false
	}
	return m, true
}

// dependent is an object that names some owner, with its kind.
type dependent struct {
	item
	obj metav1.Object
}

// dependents are the cached objects of every watched kind that name uid as an owner.
func (c *Controller) dependents(uid types.UID) []dependent {
	var out []dependent
	for _, k := range c.kinds {
		objs, err := k.informer.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			if m := accessor(obj); m != nil {
				out = append(out, dependent{item: itemOf(k, m), obj: m})
			}
		}
	}
	return out
}

// refTo is the reference m holds to the owner uid, or nil.
func refTo(m metav1.Object, uid types.UID) *metav1.OwnerReference {
	refs := m.GetOwnerReferences()
	for i := range refs {
		if refs[i].UID == uid {
			return &refs[i]
		}
	}
	return nil
}

// uidSet remembers UIDs of objects known to be gone. It forgets everything when
// full: the cost is a few extra reads, never a wrong decision.
type uidSet struct {
	mu  sync.Mutex
	max int
	m   map[types.UID]struct{}
}

func newUIDSet(max int) *uidSet { return &uidSet{max: max, m: map[types.UID]struct{}{}} }

func (s *uidSet) add(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		clear(s.m)
	}
	s.m[uid] = struct{}{}
}

func (s *uidSet) has(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[uid]
	return ok
}
