package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/storage"
)

// entry is one object as served. Entries are immutable. They keep one encoding:
// the protobuf envelope, or the JSON alone for a kind protobuf
// cannot encode and for an object whose JSON protobuf cannot reproduce (an
// empty list, which protobuf cannot tell from a missing one). When a client asks
// for JSON, it is read back from storage when the entry is stored, else encoded
// from the protobuf (see Server.jsonOf). Keeping both cost as much again as the
// protobuf for every object; JSON clients (kubectl, a user's watch) are few, and
// the in-process loops read protobuf. Entries do not keep
// the decoded object either (it costs more than both encodings together); object
// decodes a private copy.
type entry struct {
	key       string
	res       *Resource
	rev       int64
	namespace string
	name      string
	labels    pairs  // a labels.Labels
	deleting  bool   // metadata.deletionTimestamp is set
	fields    pairs  // the selectable fields, a fields.Fields: every watcher filters on them
	raw       []byte // the JSON, nil when pb reproduces it
	pb        []byte // nil for a kind protobuf cannot encode
	// stored: the JSON is the bytes stored at rev with the resourceVersion put in
	// (withResourceVersion), so storage can give it back (see Server.jsonOf).
	stored bool
}

// newEntry builds the entry for obj at revision rev. obj must carry that
// revision; stored, when not nil, is obj's stored encoding (storedBytes), from
// which the JSON is derived without encoding obj again.
func newEntry(key string, res *Resource, obj runtime.Object, stored []byte, rev int64) (*entry, error) {
	obj.GetObjectKind().SetGroupVersionKind(res.GVK)
	if stored != nil {
		if raw := withResourceVersion(stored, objectMeta(obj).ResourceVersion); raw != nil {
			return entryFromJSON(key, res, obj, raw, true, rev), nil
		}
	}
	raw, err := encodeJSON(obj, res.GVK)
	if err != nil {
		return nil, err
	}
	return entryFromJSON(key, res, obj, raw, false, rev), nil
}

// entryFromJSON builds the entry for obj, which carries its GVK and whose JSON as
// served is raw; stored says raw is the stored bytes with the resourceVersion
// put in. The entry keeps raw only when protobuf cannot stand for it.
func entryFromJSON(key string, res *Resource, obj runtime.Object, raw []byte, stored bool, rev int64) *entry {
	pb, err := encodeProtobuf(obj)
	if err != nil {
		pb = nil
	}
	_, canPB := obj.(interface{ Unmarshal([]byte) error })
	if _, ok := envelopeRaw(pb); ok && canPB && !emptyListIn(raw) {
		raw = nil
	}
	e := entryOf(key, res, obj, raw, pb, rev)
	e.stored = stored
	return e
}

// newEntryLike builds the entry for obj, a version of like's object that differs
// only in metadata (a delete's last state): when like keeps no JSON, neither
// does the new entry, and obj is not encoded as JSON only to find that out.
func newEntryLike(like *entry, obj runtime.Object, rev int64) (*entry, error) {
	if like.raw != nil {
		return newEntry(like.key, like.res, obj, storedForm(like), rev)
	}
	obj.GetObjectKind().SetGroupVersionKind(like.res.GVK)
	pb, err := encodeProtobuf(obj)
	if err != nil {
		return nil, err
	}
	return entryOf(like.key, like.res, obj, nil, pb, rev), nil
}

func entryOf(key string, res *Resource, obj runtime.Object, raw, pb []byte, rev int64) *entry {
	m := objectMeta(obj)
	return &entry{
		key: key, res: res, rev: rev,
		namespace: m.Namespace, name: m.Name, labels: pairsOf(m.Labels),
		deleting: m.DeletionTimestamp != nil,
		fields:   pairsOf(selectableFields(res, obj)),
		raw:      raw, pb: pb,
	}
}

// emptyListIn reports whether JSON may hold an empty list: protobuf has no way
// to say [] rather than nothing, so such an object keeps its JSON.
func emptyListIn(raw []byte) bool { return bytes.Contains(raw, []byte("[]")) }

// object decodes a copy of the entry's object, which the caller owns: from
// protobuf, several times faster, when the entry keeps no JSON.
func (e *entry) object() (runtime.Object, error) {
	obj := e.res.New()
	var err error
	raw, isPB := envelopeRaw(e.pb)
	u, canPB := obj.(interface{ Unmarshal([]byte) error })
	if e.raw == nil && isPB && canPB {
		// What the protobuf serializer does after unwrapping the envelope;
		// the generated Unmarshal copies what it keeps.
		err = u.Unmarshal(raw)
	} else {
		err = json.Unmarshal(e.raw, obj)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding cached %q: %w", e.key, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(e.res.GVK)
	return obj, nil
}

// json is the entry's JSON, as served: kept, or encoded from the protobuf.
// Server.jsonOf is cheaper for an entry whose JSON storage still holds.
func (e *entry) json() []byte {
	if e.raw != nil {
		return e.raw
	}
	raw, err := encodeJSON(e.mustObject(), e.res.GVK)
	if err != nil {
		panic(fmt.Errorf("encoding cached %q: %w", e.key, err))
	}
	return raw
}

// mustObject is object for callers that cannot fail: a cached encoding that does
// not decode is a bug in this package.
func (e *entry) mustObject() runtime.Object {
	obj, err := e.object()
	if err != nil {
		panic(err)
	}
	return obj
}

// resourceVersion is the entry's revision as the API spells it.
func (e *entry) resourceVersion() string { return strconv.FormatInt(e.rev, 10) }

// pairs is a map from strings to strings in a sorted slice, a fraction of the
// size of a map, which matters with two per entry of the watch history. It is
// both a fields.Fields and a labels.Labels.
type pairs []pair

type pair struct{ name, value string }

func pairsOf[M ~map[string]string](m M) pairs {
	if len(m) == 0 {
		return nil
	}
	out := make(pairs, 0, len(m))
	for k, v := range m {
		out = append(out, pair{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Has, Get and Lookup make pairs a fields.Fields and a labels.Labels.
func (p pairs) Lookup(name string) (string, bool) {
	i := sort.Search(len(p), func(i int) bool { return p[i].name >= name })
	if i < len(p) && p[i].name == name {
		return p[i].value, true
	}
	return "", false
}

func (p pairs) Has(name string) bool { _, ok := p.Lookup(name); return ok }
func (p pairs) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// event is one change as watchers see it.
type event struct {
	typ  storage.EventType
	res  *Resource
	cur  *entry // new state; for deletes, the last state at the delete's revision
	prev *entry // state before (as stored, at its own revision), nil on create
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
	// histBytes is what the events of the history hold, at most histMaxBytes.
	histBytes, histMaxBytes int
	watchers                map[*watcher]struct{}
	ready                   bool
	stopped                 bool // the server is stopping: no new watches
	// replayed is closed once the history holds what storage had of the
	// events before the cache loaded (see replay).
	replayed chan struct{}

	handoffMu sync.Mutex
	handoffs  map[string]*handoff // by key
}

// DefaultWatchHistory and historyBytes are the default bounds on how far back a watch
// can start before it gets 410 Gone: so many events, holding at most so many
// bytes of entries. A storm of writes to big objects reaches the second first
// (about 1,800 pod updates); the first is upstream's order of magnitude. A
// watch that resumes (client-go's reflector does every few minutes) needs only
// the events of the moment it was away.
const (
	DefaultWatchHistory = 10000
	historyBytes        = 4 << 20
)

func newCache(store storage.Backend, reg *Registry, log *slog.Logger, history, maxBytes int) *cache {
	if history <= 0 {
		history = DefaultWatchHistory
	}
	if maxBytes <= 0 {
		maxBytes = historyBytes
	}
	c := &cache{
		store:        store,
		reg:          reg,
		log:          log,
		objects:      map[*Resource]map[string]*entry{},
		history:      make([]*event, history),
		histMaxBytes: maxBytes,
		watchers:     map[*watcher]struct{}{},
		handoffs:     map[string]*handoff{},
		replayed:     make(chan struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
	for _, r := range reg.byKey {
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

// run follows the storage watch until ctx ends, then ends every watch: a
// server that stops serves none (its clients resume elsewhere, or from here
// after a restart).
//
// A datastore that does not answer (an etcd member cut off from its quorum,
// a network fault) is watched again, with a growing pause, until it does:
// reads are served from what the cache holds meanwhile, and writes fail.
func (c *cache) run(ctx context.Context) error {
	defer c.stop()
	pause := time.Duration(0)
	for {
		c.mu.RLock()
		from := c.rev
		c.mu.RUnlock()
		// Every key, not only the objects under /registry/: the cache's
		// revision then follows storage's, and a write to a key of the
		// server's own (a lock) is one it can wait for.
		ch, err := c.store.Watch(ctx, "/", from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, storage.ErrClosed) {
				return fmt.Errorf("watching storage: %w", err)
			}
			if errors.Is(err, storage.ErrCompacted) {
				// We fell behind compaction: reload everything.
				err = c.reload(ctx)
			}
			if err != nil {
				pause = min(max(2*pause, 100*time.Millisecond), 5*time.Second)
				c.log.Warn("watching storage; trying again", "after", pause, "err", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(pause):
				}
			}
			continue
		}
		applied := 0
		for ev := range ch {
			c.apply(ev)
			applied++
		}
		if ctx.Err() != nil {
			return nil
		}
		// A watch that ends without an event (its member lost its leader)
		// is not made again at once.
		pause = 0
		if applied == 0 {
			pause = 100 * time.Millisecond
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
		}
	}
}

// stop ends every watch and refuses new ones.
func (c *cache) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for w := range c.watchers {
		w.closeLocked()
	}
	c.cond.Broadcast()
}

func (c *cache) reload(ctx context.Context) error {
	kvs, rev, err := c.store.List(ctx, "/registry/")
	if err != nil {
		return err
	}
	fresh := map[*Resource]map[string]*entry{}
	for _, r := range c.reg.byKey {
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
	clear(c.history)
	c.histHead, c.histLen, c.histBytes = 0, 0, 0
	for w := range c.watchers {
		w.closeLocked()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// decode builds an entry from stored bytes.
func (c *cache) decode(kv storage.KeyValue) (*entry, error) {
	res := c.reg.forKey(kv.Key)
	if res == nil {
		return nil, fmt.Errorf("no resource for key %q", kv.Key)
	}
	obj := res.New()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decoding %q: %w", kv.Key, err)
	}
	rv := strconv.FormatInt(kv.ModRevision, 10)
	objectMeta(obj).ResourceVersion = rv
	// Encoded again rather than derived from kv.Value: what older versions
	// stored is served in today's form. When that is what is stored, the
	// entry says so, and its JSON can be read back from storage.
	today, err := encodeJSON(obj, res.GVK)
	if err != nil {
		return nil, fmt.Errorf("encoding %q: %w", kv.Key, err)
	}
	stored := bytes.Equal(today, withResourceVersion(kv.Value, rv))
	return entryFromJSON(kv.Key, res, obj, today, stored, kv.ModRevision), nil
}

// handoff is an object that a write in this process is storing, so that the
// cache need not decode the bytes the writer has just encoded.
type handoff struct {
	key    string
	stored []byte
	obj    runtime.Object
}

// expect offers obj, about to be stored as stored under key, to the cache. The
// writer must not change obj until its write has been applied (waitFor) or it
// has called withdraw; after a failed write it must not touch obj again (the
// write may have committed all the same).
func (c *cache) expect(key string, stored []byte, obj runtime.Object) *handoff {
	h := &handoff{key: key, stored: stored, obj: obj}
	c.handoffMu.Lock()
	c.handoffs[key] = h
	c.handoffMu.Unlock()
	return h
}

// withdraw takes back an offer that apply has not used.
func (c *cache) withdraw(h *handoff) {
	c.handoffMu.Lock()
	if c.handoffs[h.key] == h {
		delete(c.handoffs, h.key)
	}
	c.handoffMu.Unlock()
}

// claim returns the object offered for exactly this stored value, if any.
func (c *cache) claim(kv storage.KeyValue) runtime.Object {
	c.handoffMu.Lock()
	defer c.handoffMu.Unlock()
	h := c.handoffs[kv.Key]
	if h == nil || !bytes.Equal(h.stored, kv.Value) {
		return nil
	}
	delete(c.handoffs, kv.Key)
	return h.obj
}

// encodesExactly reports whether every object of res encodes to the same JSON
// and protobuf whatever its in-memory form: true unless its type holds a value
// that JSON stores with less precision than memory (MicroTime's nanoseconds, a
// float) or bytes whose encoding depends on how they arrived (RawExtension).
// Only for those kinds may the cache build an entry from the object a writer
// hands over instead of from the stored bytes.
func encodesExactly(res *Resource) bool {
	if v, ok := exactKinds.Load(res); ok {
		return v.(bool)
	}
	exact := exactType(reflect.TypeOf(res.New()), map[reflect.Type]bool{})
	exactKinds.Store(res, exact)
	return exact
}

var exactKinds sync.Map // *Resource -> bool

var (
	microTimeType    = reflect.TypeOf(metav1.MicroTime{})
	rawExtensionType = reflect.TypeOf(runtime.RawExtension{})
)

func exactType(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true
	}
	seen[t] = true
	switch t {
	case microTimeType, rawExtensionType:
		return false
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Interface:
		return false
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return exactType(t.Elem(), seen)
	case reflect.Map:
		return exactType(t.Key(), seen) && exactType(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if !exactType(t.Field(i).Type, seen) {
				return false
			}
		}
	}
	return true
}

// build makes the entry for an event: from the writer's object when it offered
// one, from the previous entry for a delete, and by decoding otherwise.
func (c *cache) build(ev storage.Event) (*entry, error) {
	res := c.reg.forKey(ev.KV.Key)
	if res == nil {
		return nil, fmt.Errorf("no resource for key %q", ev.KV.Key)
	}
	rv := strconv.FormatInt(ev.KV.ModRevision, 10)
	if ev.Type == storage.Deleted {
		c.mu.RLock() // apply is the only writer of objects: prev stays valid
		prev := c.objects[res][ev.KV.Key]
		c.mu.RUnlock()
		if prev != nil {
			if obj, err := prev.object(); err == nil {
				objectMeta(obj).ResourceVersion = rv
				return newEntryLike(prev, obj, ev.KV.ModRevision)
			}
		}
		return c.decode(ev.KV)
	}
	if !encodesExactly(res) {
		return c.decode(ev.KV)
	}
	obj := c.claim(ev.KV)
	if obj == nil {
		return c.decode(ev.KV)
	}
	objectMeta(obj).ResourceVersion = rv
	return newEntry(ev.KV.Key, res, obj, ev.KV.Value, ev.KV.ModRevision)
}

func (c *cache) apply(ev storage.Event) {
	if ev.Type == storage.Progress || !strings.HasPrefix(ev.KV.Key, "/registry/") {
		// A key the API does not serve, or storage saying how far it has
		// got: only the revision moves.
		c.mu.Lock()
		c.rev = max(c.rev, ev.Revision())
		c.cond.Broadcast()
		c.mu.Unlock()
		return
	}
	// The deleted object is served with the revision of the delete, as upstream.
	cur, err := c.build(ev)
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
	c.record(e)
	c.rev = rev
	for w := range c.watchers {
		if w.res == e.res {
			w.send(e)
		}
	}
	c.cond.Broadcast()
}

// record adds e to the watch history, dropping the oldest events beyond the
// count or the bytes it may hold (always keeping the newest).
func (c *cache) record(e *event) {
	if c.histLen == len(c.history) {
		c.dropOldestLocked()
	}
	c.history[(c.histHead+c.histLen)%len(c.history)] = e
	c.histLen++
	c.histBytes += e.size()
	for c.histBytes > c.histMaxBytes && c.histLen > 1 {
		c.dropOldestLocked()
	}
}

func (c *cache) dropOldestLocked() {
	c.histBytes -= c.history[c.histHead].size()
	c.history[c.histHead] = nil
	c.histHead = (c.histHead + 1) % len(c.history)
	c.histLen--
}

// size is what an event holds in the history: the encodings of its object and
// the rest of its entry (names, labels, fields), about entryOverhead bytes.
// The previous state of a create or an update is the object before, held by
// the previous event or the cache anyway; a delete alone keeps its own.
func (e *event) size() int {
	n := e.cur.size()
	if e.typ == storage.Deleted && e.prev != nil {
		n += e.prev.size()
	}
	return n
}

func (e *entry) size() int { return len(e.raw) + len(e.pb) + entryOverhead }

const entryOverhead = 512

// oldestRevLocked is the revision after which history is complete.
func (c *cache) oldestRevLocked() int64 {
	if c.histLen == 0 {
		return c.rev
	}
	return c.history[c.histHead].rev - 1
}

// errCacheStopped: the cache follows storage no more (the server is
// stopping), so a revision it has not applied it never will.
var errCacheStopped = errors.New("the server is shutting down")

// waitFor blocks until the cache has applied revision rev (a write just made).
// It fails at once with errCacheStopped once the cache has stopped.
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
		if c.stopped {
			return errCacheStopped
		}
		if time.Since(start) > 10*time.Second {
			return fmt.Errorf("cache did not reach revision %d", rev)
		}
		c.cond.Wait()
	}
	return nil
}

// written waits for a write the server has committed at revision rev to reach
// the cache. A server that stops while it waits still answers the write, which
// stands, from the object written (the callers' fallback for an entry that is
// not at rev), rather than making its client wait for a revision that will
// never come.
func (c *cache) written(ctx context.Context, rev int64) error {
	if err := c.waitFor(ctx, rev); err != nil && !errors.Is(err, errCacheStopped) {
		return err
	}
	return nil
}

// get returns the entry for a key.
func (c *cache) get(res *Resource, key string) (*entry, int64) {
	c.mu.RLock()
	e, rev := c.objects[res.stored()][key], c.rev
	c.mu.RUnlock()
	if e != nil && res.base != nil {
		e = res.view(e)
	}
	return e, rev
}

// view is the entry of the view res for e, an entry of the kind it views.
// It is built for each read: views are read far less than written.
func (res *Resource) view(e *entry) *entry {
	obj, err := e.object()
	if err == nil {
		var v *entry
		if v, err = newEntry(e.key, res, res.Of.ToView(obj), nil, e.rev); err == nil {
			return v
		}
	}
	panic(fmt.Errorf("viewing %q as %s: %w", e.key, res.GVK, err)) // a cached entry that does not convert is a bug
}

// views turns entries of the kind res views into res's, keeping those that
// match, in order.
func (res *Resource) views(items []*entry, match func(*entry) bool) []*entry {
	parallel(len(items), func(i int) { items[i] = res.view(items[i]) })
	if match == nil {
		return items
	}
	out := items[:0]
	for _, e := range items {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// list returns the entries of res under the namespace (all when ns is ""), sorted
// by key, and the revision they are consistent with.
func (c *cache) list(res *Resource, ns string, match func(*entry) bool) ([]*entry, int64) {
	if res.base != nil {
		items, rev := c.list(res.base, ns, nil)
		return res.views(items, match), rev
	}
	c.mu.RLock()
	objs := c.objects[res]
	out := make([]*entry, 0, len(objs))
	for _, e := range objs {
		if ns != "" && res.Namespaced && e.namespace != ns {
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

// listAt is list at revision at (0 for the latest): the current objects with
// the history after at undone, newest first. It fails with 410 Gone when the
// history no longer reaches back to at.
func (c *cache) listAt(res *Resource, ns string, match func(*entry) bool, at int64) ([]*entry, int64, error) {
	if res.base != nil {
		items, rev, err := c.listAt(res.base, ns, nil, at)
		if err != nil {
			return nil, 0, err
		}
		return res.views(items, match), rev, nil
	}
	if at > 0 && at < c.currentRev() {
		c.awaitReplay(context.Background())
	}
	c.mu.RLock()
	if at <= 0 || at == c.rev {
		c.mu.RUnlock()
		items, rev := c.list(res, ns, match)
		if at > 0 && rev != at {
			return c.listAt(res, ns, match, at) // a write came in between
		}
		return items, rev, nil
	}
	if oldest := c.oldestRevLocked(); at < oldest || at > c.rev {
		c.mu.RUnlock()
		if at > c.rev {
			return nil, 0, tooLargeResourceVersion(at, c.rev)
		}
		return nil, 0, errTooOld(at, oldest)
	}
	in := func(e *entry) bool { return ns == "" || !res.Namespaced || e.namespace == ns }
	state := make(map[string]*entry, len(c.objects[res]))
	for k, e := range c.objects[res] {
		if in(e) {
			state[k] = e
		}
	}
	for i := c.histLen - 1; i >= 0; i-- {
		ev := c.history[(c.histHead+i)%len(c.history)]
		if ev.rev <= at {
			break
		}
		if ev.res != res || !in(ev.cur) {
			continue
		}
		if ev.prev == nil {
			delete(state, ev.cur.key)
		} else {
			state[ev.cur.key] = ev.prev
		}
	}
	c.mu.RUnlock()
	out := make([]*entry, 0, len(state))
	for _, e := range state {
		if match == nil || match(e) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, at, nil
}

// count is how many objects of res the cache holds.
func (c *cache) count(res *Resource) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.objects[res.stored()])
}

// currentRev is the last applied revision.
func (c *cache) currentRev() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// jsonOf returns the JSON of entries as served: kept by the entry, else the
// bytes storage holds at the entry's revision with its resourceVersion put in
// (a read of the database file, no decoding), else encoded from the protobuf
// (an object written since, or one whose stored form is not today's). When the
// entries are many and at least a quarter of their kind, storage is read with
// one list of their prefix instead of one read each.
func (s *Server) jsonOf(ctx context.Context, res *Resource, namespace string, items []*entry) [][]byte {
	raws := make([][]byte, len(items))
	var fromStorage []int
	for i, e := range items {
		switch {
		case e.raw != nil:
			raws[i] = e.raw
		case e.stored && !s.cfg.SharedStorage:
			// Not from a datastore that is not the server's own: a read of
			// etcd is a quorum read, slower than encoding, and one a
			// server cut off from its quorum cannot make.
			fromStorage = append(fromStorage, i)
		}
	}
	fill := func(i int, kv storage.KeyValue) {
		if e := items[i]; kv.ModRevision == e.rev {
			raws[i] = withResourceVersion(kv.Value, e.resourceVersion())
		}
	}
	if n := len(fromStorage); n >= listFromStorage && 4*n >= s.cache.count(res) {
		prefix := res.stored().keyPrefix()
		if res.Namespaced && namespace != "" {
			prefix += namespace + "/"
		}
		if kvs, _, err := s.cfg.Storage.List(ctx, prefix); err == nil {
			byKey := make(map[string]int, len(fromStorage))
			for _, i := range fromStorage {
				byKey[items[i].key] = i
			}
			for _, kv := range kvs {
				if i, ok := byKey[kv.Key]; ok {
					fill(i, kv)
				}
			}
		}
	} else {
		for _, i := range fromStorage {
			if kv, err := s.cfg.Storage.Get(ctx, items[i].key); err == nil {
				fill(i, kv)
			}
		}
	}
	parallel(len(items), func(i int) {
		if raws[i] == nil {
			raws[i] = items[i].json()
		}
	})
	return raws
}

// listFromStorage is how many entries jsonOf reads with one list of their prefix
// rather than one read each.
const listFromStorage = 64

// entryJSON is jsonOf for one entry.
func (s *Server) entryJSON(ctx context.Context, e *entry) []byte {
	if e.raw != nil {
		return e.raw
	}
	return s.jsonOf(ctx, e.res, e.namespace, []*entry{e})[0]
}
