package apiserver

import (
	"context"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// watcherBuffer is how many events a watcher may lag before it is cut off (the
// client then resumes from the last revision it saw, as client-go does).
const watcherBuffer = 2048

type watcher struct {
	c      *cache
	res    *Resource
	ch     chan *event
	closed bool
}

// send queues an event; the cache holds its lock.
func (w *watcher) send(e *event) {
	if w.closed {
		return
	}
	select {
	case w.ch <- e:
	default:
		w.closeLocked()
	}
}

func (w *watcher) closeLocked() {
	if !w.closed {
		w.closed = true
		close(w.ch)
		delete(w.c.watchers, w)
	}
}

func (w *watcher) stop() {
	w.c.mu.Lock()
	w.closeLocked()
	w.c.mu.Unlock()
}

// watchStart says where a watch begins.
type watchStart struct {
	initial bool  // send the current state as ADDED events first
	now     bool  // otherwise, events after the latest revision
	after   int64 // or events after this revision
}

// watch registers a watcher for res. With start.initial it returns the current
// matching objects as initial events; otherwise the history after start.after.
// The watcher of a view follows the kind it views: its events, and match, are
// that kind's (see watchEncoder.line).
func (c *cache) watch(ctx context.Context, res *Resource, start watchStart, match func(*entry) bool) (*watcher, []*event, int64, error) {
	res = res.stored()
	if !start.initial && !start.now {
		// A revision newer than ours is one we will see soon (a write by another
		// server, or one in flight): wait briefly, as upstream does.
		c.mu.RLock()
		ahead := start.after > c.rev
		c.mu.RUnlock()
		if ahead {
			wctx, cancel := context.WithTimeout(ctx, freshnessWait)
			err := c.waitFor(wctx, start.after)
			cancel()
			if err != nil {
				return nil, nil, 0, tooLargeResourceVersion(start.after, c.currentRev())
			}
		}
	}
	if !start.initial && !start.now {
		c.awaitReplay(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, nil, 0, apierrors.NewTooManyRequests("the server is shutting down", 1)
	}
	if start.now {
		start.after = c.rev
	}
	var initial []*event
	if start.initial {
		for _, e := range c.objects[res] {
			if match == nil || match(e) {
				initial = append(initial, &event{typ: 0, res: res, cur: e, rev: e.rev})
			}
		}
		sortEventsByKey(initial)
	} else {
		oldest := c.oldestRevLocked()
		if start.after < oldest {
			return nil, nil, 0, errTooOld(start.after, oldest)
		}
		for i := 0; i < c.histLen; i++ {
			e := c.history[(c.histHead+i)%len(c.history)]
			if e.rev > start.after && e.res == res {
				initial = append(initial, e)
			}
		}
	}
	w := &watcher{c: c, res: res, ch: make(chan *event, watcherBuffer)}
	c.watchers[w] = struct{}{}
	return w, initial, c.rev, nil
}

func sortEventsByKey(evs []*event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].cur.key < evs[j].cur.key })
}
