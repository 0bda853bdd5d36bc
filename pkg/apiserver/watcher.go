package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	after   int64 // otherwise: events after this revision
}

// errTooOld is upstream's 410 for a watch from a compacted revision.
func errTooOld(rev, oldest int64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, oldest+1))
}

// watch registers a watcher for res. With start.initial it returns the current
// matching objects as initial events; otherwise the history after start.after.
func (c *cache) watch(ctx context.Context, res *Resource, start watchStart, match func(*entry) bool) (*watcher, []*event, int64, error) {
	if !start.initial {
		// A revision newer than ours is one we will see soon (a write by another
		// server, or one in flight): wait briefly, as upstream does.
		c.mu.RLock()
		ahead := start.after > c.rev
		c.mu.RUnlock()
		if ahead {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := c.waitFor(wctx, start.after)
			cancel()
			if err != nil {
				return nil, nil, 0, &apierrors.StatusError{ErrStatus: metav1.Status{
					Status: metav1.StatusFailure, Code: http.StatusGatewayTimeout, Reason: metav1.StatusReasonTimeout,
					Message: fmt.Sprintf("Too large resource version: %d, current: %d", start.after, c.currentRev()),
					Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}, RetryAfterSeconds: 1},
				}}
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
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
