package backends

import (
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// writeTimeout bounds how long a write we made may go unseen by the informer
// before we stop waiting for it (a relist, or a delete we never saw, can make
// that happen); then the cache is trusted again.
const writeTimeout = 30 * time.Second

// Writes remembers, per Service, the objects a controller wrote (created,
// updated, deleted) until its informer shows them. A sync that reads the cache
// before then would act on state older than its own last write: it would
// create a second copy of a slice it just created, or undo an update. The
// controller asks Stale before acting and waits for the informer instead.
type Writes struct {
	mu       sync.Mutex
	services map[string]*pending
	now      func() time.Time
}

type pending struct {
	want    map[types.UID]written
	waiting bool // a sync found the cache stale: resync when it catches up
}

type written struct {
	rv   uint64 // the resourceVersion our write returned
	gone bool   // we deleted it
	at   time.Time
}

// NewWrites returns an empty tracker.
func NewWrites() *Writes {
	return &Writes{services: map[string]*pending{}, now: time.Now}
}

func (w *Writes) state(key string) *pending {
	p := w.services[key]
	if p == nil {
		p = &pending{want: map[types.UID]written{}}
		w.services[key] = p
	}
	return p
}

// Wrote records an object as the API server returned it from a create or update.
func (w *Writes) Wrote(key string, obj metav1.Object) {
	rv, ok := parseRV(obj.GetResourceVersion())
	if !ok {
		return // opaque versions cannot be ordered: trust the cache
	}
	w.mu.Lock()
	w.state(key).want[obj.GetUID()] = written{rv: rv, at: w.now()}
	w.mu.Unlock()
}

// Deleted records that we deleted the object with this UID.
func (w *Writes) Deleted(key string, uid types.UID) {
	if uid == "" {
		return
	}
	w.mu.Lock()
	w.state(key).want[uid] = written{gone: true, at: w.now()}
	w.mu.Unlock()
}

// Observe is fed every informer event for the objects of the Service and says
// whether the Service needs a sync because of it: yes for a change that is not
// one of our writes, or for the last awaited write when a sync was waiting on
// it; no for the echo of our own write.
func (w *Writes) Observe(key string, obj metav1.Object, gone bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.services[key]
	if p == nil {
		return true
	}
	uid := obj.GetUID()
	want, ok := p.want[uid]
	if !ok {
		return true
	}
	foreign := false
	switch {
	case gone:
		foreign = !want.gone
	case want.gone:
		return false // an older version of what we deleted
	default:
		rv, ok := parseRV(obj.GetResourceVersion())
		if ok && rv < want.rv {
			return false // an older version than our write
		}
		foreign = !ok || rv > want.rv
	}
	delete(p.want, uid)
	if len(p.want) == 0 && p.waiting {
		p.waiting = false
		return true
	}
	return foreign
}

// Stale reports whether the cached objects of the Service (as the lister has
// them now) still miss one of our writes. It forgets the writes the cache
// shows; when it reports true, the next Observe that completes the set asks
// for a sync.
func (w *Writes) Stale(key string, cached []metav1.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.services[key]
	if p == nil || len(p.want) == 0 {
		return false
	}
	byUID := make(map[types.UID]metav1.Object, len(cached))
	for _, o := range cached {
		byUID[o.GetUID()] = o
	}
	now := w.now()
	for uid, want := range p.want {
		o, present := byUID[uid]
		seen := false
		switch {
		case want.gone:
			seen = !present
		case present:
			rv, ok := parseRV(o.GetResourceVersion())
			seen = !ok || rv >= want.rv
		}
		if seen || now.Sub(want.at) > writeTimeout {
			delete(p.want, uid)
		}
	}
	if len(p.want) == 0 {
		p.waiting = false
		return false
	}
	p.waiting = true
	return true
}

// Forget drops the Service's state (it was deleted).
func (w *Writes) Forget(key string) {
	w.mu.Lock()
	delete(w.services, key)
	w.mu.Unlock()
}

func parseRV(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}
