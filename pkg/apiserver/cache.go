package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/storage"
)

// entry is one object as served: decoded, and encoded once as JSON with its
// resourceVersion. Entries are immutable; readers deep-copy obj before changing it.
type entry struct {
	key    string
	res    *Resource
	obj    runtime.Object
	meta   metaAccessor
	raw    []byte
	rev    int64
	fields fields.Set // selectable fields, computed once: every watcher filters on them

	pbOnce sync.Once // protobuf encoding, made on first request
	pb     []byte
	pbErr  error
}

type metaAccessor = interface {
	GetNamespace() string
	GetName() string
	GetLabels() map[string]string
	GetResourceVersion() string
}

// event is one change as watchers see it.
type event struct {
	typ  storage.EventType
	res  *Resource
	cur  *entry // new state; for deletes, the last state at the delete's revision
	prev *entry // state before, nil on create
	rev  int64
}

// cache mirrors every object in storage, fed by one storage watch. It serves GET,
// LIST and WATCH; writes go to storage and wait here until their revision arrives.
type cache struct {
	store storage.Backend
	reg   *Registry
	log   *slog.Logger

	mu       sync.RWMutex
	cond     *sync.Cond
	objects  map[*Resource]map[string]*entry
	rev      int64
	history  []*event // ring of recent events, oldest first once full
	histHead int      // index of the oldest event when the ring is full
	histLen  int
	watchers map[*watcher]struct{}
	ready    bool
}

// historySize is the default bound on how far back a watch can start before it
// gets 410 Gone.
const historySize = 10000

func newCache(store storage.Backend, reg *Registry, log *slog.Logger, history int) *cache {
	if history <= 0 {
		history = historySize
	}
	c := &cache{
		store:    store,
		reg:      reg,
		log:      log,
		objects:  map[*Resource]map[string]*entry{},
		history:  make([]*event, history),
		watchers: map[*watcher]struct{}{},
	}
	c.cond = sync.NewCond(&c.mu)
	for _, r := range reg.Resources() {
		c.objects[r] = map[string]*entry{}
	}
	return c
}

// load lists everything once. It must finish before the server answers.
func (c *cache) load(ctx context.Context) error {
	kvs, rev, err := c.store.List(ctx, "/registry/")
	if err != nil {
		return fmt.Errorf("loading objects from storage: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, kv := range kvs {
		e, err := c.decode(kv)
		if err != nil {
			c.log.Warn("skipping undecodable object", "key", kv.Key, "err", err)
			continue
		}
		c.objects[e.res][e.key] = e
	}
	c.rev = rev
	c.ready = true
	return nil
}

// run follows the storage watch until ctx ends.
func (c *cache) run(ctx context.Context) error {
	for {
		c.mu.RLock()
		from := c.rev
		c.mu.RUnlock()
		ch, err := c.store.Watch(ctx, "/registry/", from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, storage.ErrCompacted) {
				// We fell behind compaction: reload everything.
				if err := c.reload(ctx); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("watching storage: %w", err)
		}
		for ev := range ch {
			c.apply(ev)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (c *cache) reload(ctx context.Context) error {
	kvs, rev, err := c.store.List(ctx, "/registry/")
	if err != nil {
		return err
	}
	fresh := map[*Resource]map[string]*entry{}
	for _, r := range c.reg.Resources() {
		fresh[r] = map[string]*entry{}
	}
	for _, kv := range kvs {
		if e, err := c.decode(kv); err == nil {
			fresh[e.res][e.key] = e
		}
	}
	c.mu.Lock()
	c.objects = fresh
	c.rev = rev
	c.histLen = 0
	for w := range c.watchers {
		w.closeLocked()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (c *cache) decode(kv storage.KeyValue) (*entry, error) {
	res := c.reg.forKey(kv.Key)
	if res == nil {
		return nil, fmt.Errorf("no resource for key %q", kv.Key)
	}
	obj := res.New()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decoding %q: %w", kv.Key, err)
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	raw, err := encodeJSON(obj, res.GVK)
	if err != nil {
		return nil, err
	}
	return &entry{key: kv.Key, res: res, obj: obj, meta: acc, raw: raw, rev: kv.ModRevision,
		fields: selectableFields(res, obj)}, nil
}

func (c *cache) apply(ev storage.Event) {
	var cur *entry
	var err error
	if ev.Type == storage.Deleted {
		// The deleted object is served with the revision of the delete, as upstream.
		kv := ev.KV
		cur, err = c.decode(kv)
	} else {
		cur, err = c.decode(ev.KV)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rev := ev.Revision()
	if err != nil {
		c.log.Warn("dropping undecodable event", "key", ev.KV.Key, "err", err)
		c.rev = rev
		c.cond.Broadcast()
		return
	}
	objs := c.objects[cur.res]
	prev := objs[cur.key]
	if ev.Type == storage.Deleted {
		delete(objs, cur.key)
	} else {
		objs[cur.key] = cur
	}
	e := &event{typ: ev.Type, res: cur.res, cur: cur, prev: prev, rev: rev}
	if ev.Type == storage.Deleted {
		e.prev = nil
	}
	c.record(e)
	c.rev = rev
	for w := range c.watchers {
		if w.res == e.res {
			w.send(e)
		}
	}
	c.cond.Broadcast()
}

func (c *cache) record(e *event) {
	if c.histLen < len(c.history) {
		c.history[(c.histHead+c.histLen)%len(c.history)] = e
		c.histLen++
		return
	}
	c.history[c.histHead] = e
	c.histHead = (c.histHead + 1) % len(c.history)
}

// oldestRevLocked is the revision after which history is complete.
func (c *cache) oldestRevLocked() int64 {
	if c.histLen < len(c.history) && c.histHead == 0 {
		// The ring has not wrapped: history is complete since load.
		if c.histLen == 0 {
			return c.rev
		}
		return c.history[0].rev - 1
	}
	return c.history[c.histHead].rev - 1
}

// waitFor blocks until the cache has applied revision rev (a write just made).
func (c *cache) waitFor(ctx context.Context, rev int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev >= rev {
		return nil
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		case <-time.After(10 * time.Second):
		}
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	start := time.Now()
	for c.rev < rev {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) > 10*time.Second {
			return fmt.Errorf("cache did not reach revision %d", rev)
		}
		c.cond.Wait()
	}
	return nil
}

// get returns the entry for a key.
func (c *cache) get(res *Resource, key string) (*entry, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.objects[res][key], c.rev
}

// list returns the entries of res under the namespace (all when ns is ""), sorted
// by key, and the revision they are consistent with.
func (c *cache) list(res *Resource, ns string, match func(*entry) bool) ([]*entry, int64) {
	c.mu.RLock()
	objs := c.objects[res]
	out := make([]*entry, 0, len(objs))
	for _, e := range objs {
		if ns != "" && res.Namespaced && e.meta.GetNamespace() != ns {
			continue
		}
		if match != nil && !match(e) {
			continue
		}
		out = append(out, e)
	}
	rev := c.rev
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, rev
}

// currentRev is the last applied revision.
func (c *cache) currentRev() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}
