package apiserver

import (
	"context"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// replayWait bounds how long a watch or list from an old revision waits for
// the history replay to finish before it is answered from what is there.
const replayWait = 10 * time.Second

// replayIdle is how long the replay waits for storage's next stored event
// before it takes the history as read: storage sends what it holds at once.
const replayIdle = 500 * time.Millisecond

// replay fills the watch history with the events storage still holds from
// before the cache loaded at revision upto, as many as the history keeps, so
// that a client that watched this server before it restarted resumes where it
// was instead of listing everything again (kine serves watches from its log
// the same way). It runs after the server is ready; watches and lists from a
// revision older than the history wait for it (awaitReplay).
func (c *cache) replay(ctx context.Context, upto int64) {
	defer close(c.replayed)
	start := time.Now()
	raws, err := c.storedHistory(ctx, upto)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("replaying the watch history from storage", "err", err)
		}
		return
	}
	events := c.decodeHistory(raws)
	c.mu.Lock()
	live := make([]*event, 0, c.histLen)
	for i := 0; i < c.histLen; i++ {
		live = append(live, c.history[(c.histHead+i)%len(c.history)])
	}
	clear(c.history)
	c.histHead, c.histLen, c.histBytes = 0, 0, 0
	for _, e := range events {
		c.record(e)
	}
	for _, e := range live {
		c.record(e)
	}
	oldest := c.oldestRevLocked()
	c.mu.Unlock()
	if len(events) > 0 {
		c.log.Debug("replayed the watch history from storage", "events", len(events), "from", oldest, "took", time.Since(start))
	}
}

// awaitReplay waits, briefly, for the history replay to finish.
func (c *cache) awaitReplay(ctx context.Context) {
	if c.replayed == nil {
		return
	}
	t := time.NewTimer(replayWait)
	defer t.Stop()
	select {
	case <-c.replayed:
	case <-ctx.Done():
	case <-t.C:
	}
}

// storedHistory reads from storage the events up to revision upto that the
// history could hold: at most as many as it has room for, and of those the
// newest whose encodings fit in its bytes.
func (c *cache) storedHistory(ctx context.Context, upto int64) ([]storage.Event, error) {
	compacted, err := c.store.CompactedRevision(ctx)
	if err != nil {
		return nil, err
	}
	from := max(compacted, upto-int64(len(c.history)))
	var out []storage.Event
	for from < upto {
		wctx, cancel := context.WithCancel(ctx)
		ch, err := c.store.Watch(wctx, "/registry/", from)
		if err != nil {
			cancel()
			return nil, err
		}
		// upto need not be a write under /registry/ (a datastore shared
		// with others, or etcd's first revision, holds none): an event past
		// it ends the replay; so does storage's word that it has sent all up
		// to upto, where it can give it (a pause proves nothing there: a
		// datastore that stalls pauses too, and the history would have a
		// gap), else a pause once storage has replayed what it holds.
		progress, _ := c.store.(storage.ProgressRequester)
		idle := time.NewTimer(replayIdle)
	read:
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					break read // fell behind: resume from where it stopped
				}
				if ev.Revision() > upto || ev.Type == storage.Progress && ev.Revision() >= upto {
					from = upto
					break read
				}
				if ev.Type == storage.Progress {
					continue
				}
				out = append(out, ev)
				from = ev.Revision()
				if from == upto {
					break read
				}
				idle.Reset(replayIdle)
			case <-idle.C:
				if progress != nil {
					_ = progress.RequestProgress(ctx)
					idle.Reset(replayIdle)
					continue
				}
				from = upto
				break read
			case <-ctx.Done():
				break read
			}
		}
		idle.Stop()
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A watch closed before upto (it fell behind) resumes from where it stopped.
	}
	// The newest events whose encodings (JSON, a little more than what the
	// cache keeps) fit in the history's bytes.
	bytes, i := 0, len(out)
	for i > 0 {
		ev := out[i-1]
		size := len(ev.KV.Value) + entryOverhead
		if ev.Type == storage.Deleted && ev.PrevKV != nil {
			size += len(ev.PrevKV.Value) + entryOverhead
		}
		if bytes+size > c.histMaxBytes {
			break
		}
		bytes += size
		i--
	}
	return out[i:], nil
}

// decodeHistory builds the history's events from stored ones, in order. The
// state before an event is the previous event's of the same key when there is
// one, else decoded from storage's previous value.
func (c *cache) decodeHistory(raws []storage.Event) []*event {
	last := map[string]*entry{}
	out := make([]*event, 0, len(raws))
	for _, ev := range raws {
		cur, err := c.decode(ev.KV)
		if err != nil {
			c.log.Warn("skipping undecodable history", "key", ev.KV.Key, "revision", ev.Revision(), "err", err)
			delete(last, ev.KV.Key)
			continue
		}
		var prev *entry
		if ev.Type != storage.Created {
			prev = last[ev.KV.Key]
			if prev == nil && ev.PrevKV != nil {
				prev, _ = c.decode(*ev.PrevKV)
			}
		}
		if ev.Type == storage.Deleted {
			delete(last, ev.KV.Key)
		} else {
			last[ev.KV.Key] = cur
		}
		out = append(out, &event{typ: ev.Type, res: cur.res, cur: cur, prev: prev, rev: ev.Revision()})
	}
	return out
}
