package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/storage"
)

// bookmarkInterval is how often a watch that asked for bookmarks gets one.
var bookmarkInterval = 30 * time.Second

// watchParams is what a watch request asked for.
type watchParams struct {
	start             watchStart
	bookmarks         bool
	initialEventsEnd  bool // sendInitialEvents=true: end the initial state with a bookmark
	timeout           time.Duration
	output            outputKind
	includeObjectMode string
}

// parseWatchParams reads a watch's list options (see listOptions).
func parseWatchParams(r *http.Request, res *Resource, output outputKind, opts metainternalversion.ListOptions) (watchParams, error) {
	p := watchParams{output: output, includeObjectMode: r.URL.Query().Get("includeObject")}
	p.bookmarks = opts.AllowWatchBookmarks
	rv, ferr := parseResourceVersion(opts.ResourceVersion)
	if ferr != nil {
		// Upstream's watch cache answers 422 where a list answers 400.
		return p, apierrors.NewInvalid(schema.GroupKind{Group: res.GVK.Group, Kind: res.Name}, "", field.ErrorList{ferr})
	}
	switch {
	case opts.SendInitialEvents != nil && *opts.SendInitialEvents:
		if !p.bookmarks {
			return p, apierrors.NewBadRequest("sendInitialEvents requires setting allowWatchBookmarks to true")
		}
		p.start.initial = true
		p.initialEventsEnd = true
	case rv == 0 && opts.SendInitialEvents == nil:
		p.start.initial = true
	case rv == 0:
		p.start.now = true // sendInitialEvents=false: from the latest revision on
	default:
		p.start.after = rv
	}
	if opts.TimeoutSeconds != nil {
		if *opts.TimeoutSeconds < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %d", *opts.TimeoutSeconds))
		}
		p.timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	if p.timeout == 0 {
		// Upstream spreads long-running requests over [30m, 60m) so clients reconnect
		// at different times.
		p.timeout = 30*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
	}
	return p, nil
}

func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := listOptions(r, true)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := parseWatchParams(r, req.res, req.output, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	sel, err := matcher(req.res, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	ns := req.namespace
	if req.name != "" {
		// Legacy /watch/.../NAME: one object.
		name := req.name
		prev := sel
		sel = func(e *entry) bool { return e.name == name && (prev == nil || prev(e)) }
	}
	inNamespace := func(e *entry) bool { return ns == "" || !req.res.Namespaced || e.namespace == ns }
	match := func(e *entry) bool { return inNamespace(e) && (sel == nil || sel(e)) }
	storedMatch := match
	if req.res.base != nil {
		// Selectors name the view's fields: they are matched once the
		// stored kind's events are converted (watchEncoder.line).
		storedMatch = inNamespace
	}
	flusher, _ := w.(http.Flusher)
	if p.output == outputProtobuf {
		w.Header().Set("Content-Type", protobufType+";stream=watch")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Cache-Control", "no-cache, private")

	wt, initial, startRev, err := s.cache.watch(r.Context(), req.res, p.start, storedMatch)
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			// Upstream opens the stream and sends the 410 as an ERROR event.
			w.WriteHeader(http.StatusOK)
			st := toStatus(err)
			if p.output == outputProtobuf {
				pb, _ := encodeProtobuf(st)
				_, _ = w.Write(watchFrame("ERROR", pb))
				return
			}
			_, _ = w.Write(watchLine("ERROR", mustJSON(st)))
			return
		}
		writeError(w, err)
		return
	}
	defer wt.stop()
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	enc := &watchEncoder{ctx: r.Context(), s: s, res: req.res, p: p, now: time.Now, inNamespace: inNamespace}
	var buf bytes.Buffer
	for _, e := range initial {
		if line := enc.line(e, match); line != nil {
			buf.Write(line)
			if buf.Len() > 64*1024 {
				if _, err := w.Write(buf.Bytes()); err != nil {
					return
				}
				buf.Reset()
			}
		}
	}
	if p.initialEventsEnd {
		buf.Write(enc.bookmark(startRev, true))
	}
	if buf.Len() > 0 {
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	timeout := time.NewTimer(p.timeout)
	defer timeout.Stop()
	var tick <-chan time.Time
	if p.bookmarks {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	lastRev := startRev
	for {
		select {
		case <-r.Context().Done():
			return
		case <-timeout.C:
			return
		case <-tick:
			// Every event up to the cache's revision now is queued before this
			// bookmark, so its revision is safe to resume from.
			if rev := s.cache.progress(wt); rev > lastRev {
				lastRev = rev
			}
		case e, ok := <-wt.ch:
			if !ok {
				return
			}
			var line []byte
			if e.typ == progressEvent {
				line = enc.bookmark(e.rev, false)
			} else {
				line = enc.line(e, match)
			}
			lastRev = e.rev
			if line == nil {
				continue
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			// Drain what is already queued before flushing: fewer syscalls in bursts.
			for n := 0; n < 256 && len(wt.ch) > 0; n++ {
				e, ok := <-wt.ch
				if !ok {
					break
				}
				lastRev = e.rev
				if e.typ == progressEvent {
					line = enc.bookmark(e.rev, false)
				} else {
					line = enc.line(e, match)
				}
				if line != nil {
					if _, err := w.Write(line); err != nil {
						return
					}
				}
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// progressEvent is a cache-internal event type: "all events up to rev are queued".
const progressEvent storage.EventType = 100

// progress queues a progress marker on a watcher and returns the cache revision.
func (c *cache) progress(w *watcher) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.send(&event{typ: progressEvent, rev: c.rev})
	return c.rev
}

type watchEncoder struct {
	ctx         context.Context // the watch request's
	s           *Server
	res         *Resource
	p           watchParams
	now         func() time.Time
	inNamespace func(*entry) bool // the watch's namespace, for a view's events
}

// line renders one event for this watcher, translating selector transitions:
// an object that stops matching is DELETED for this watcher, one that starts
// matching is ADDED. A view's watcher gets the events of the kind it views
// and converts those of its namespace here, in its own goroutine.
func (we *watchEncoder) line(e *event, match func(*entry) bool) []byte {
	if we.res.base != nil {
		if !we.inNamespace(e.cur) {
			return nil
		}
		e = viewEvent(we.res, e)
	}
	var typ string
	switch e.typ {
	case 0: // initial state
		if !match(e.cur) {
			return nil
		}
		typ = "ADDED"
	case storage.Created:
		if !match(e.cur) {
			return nil
		}
		typ = "ADDED"
	case storage.Updated:
		now, was := match(e.cur), e.prev != nil && match(e.prev)
		switch {
		case now && was:
			typ = "MODIFIED"
		case now:
			typ = "ADDED"
		case was:
			typ = "DELETED"
		default:
			return nil
		}
	case storage.Deleted:
		if !match(e.cur) {
			return nil
		}
		typ = "DELETED"
	default:
		return nil
	}
	if we.p.output == outputProtobuf {
		pb, err := e.cur.protobuf()
		if err != nil {
			return nil
		}
		return watchFrame(typ, pb)
	}
	return watchLine(typ, we.object(e.cur))
}

// viewEvent is e, an event of the kind res views, as res's, for line: the
// state before matters only to an update.
func viewEvent(res *Resource, e *event) *event {
	v := &event{typ: e.typ, res: res, cur: res.view(e.cur), rev: e.rev}
	if e.typ == storage.Updated && e.prev != nil {
		v.prev = res.view(e.prev)
	}
	return v
}

func (we *watchEncoder) object(e *entry) []byte {
	switch we.p.output {
	case outputTable:
		t := &metav1.Table{
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: we.res.Columns,
			Rows:              []metav1.TableRow{tableRow(we.res, e, we.p.includeObjectMode, we.now())},
		}
		t.ResourceVersion = strconv.FormatInt(e.rev, 10)
		return mustJSON(t)
	case outputPartialMetadata:
		return partialMetadata(e)
	}
	return we.s.entryJSON(we.ctx, e)
}

func (we *watchEncoder) bookmark(rev int64, initialEnd bool) []byte {
	if we.p.output == outputProtobuf {
		return watchFrame("BOOKMARK", bookmarkProtobuf(we.res, rev, initialEnd))
	}
	var obj []byte
	rv := strconv.FormatInt(rev, 10)
	annotations := ""
	if initialEnd {
		annotations = `,"annotations":{"k8s.io/initial-events-end":"true"}`
	}
	switch we.p.output {
	case outputTable:
		obj = []byte(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"` + rv + `"},"columnDefinitions":null,"rows":null}`)
	case outputPartialMetadata:
		obj = []byte(`{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"` + rv + `"` + annotations + `}}`)
	default:
		obj = []byte(`{"kind":"` + we.res.GVK.Kind + `","apiVersion":"` + we.res.GroupVersion() + `","metadata":{"resourceVersion":"` + rv + `","creationTimestamp":null` + annotations + `}}`)
	}
	return watchLine("BOOKMARK", obj)
}

func watchLine(typ string, obj []byte) []byte {
	b := make([]byte, 0, len(obj)+32)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","object":`...)
	b = append(b, obj...)
	b = append(b, "}\n"...)
	return b
}
