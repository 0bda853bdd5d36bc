package bolt

import (
	"context"
	"errors"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// autoCompact keeps the last compactKeep revisions of history, checking every
// compactEvery and whenever the writer finds twice that many kept, until ctx
// ends. A burst of writes thus keeps the log, and the file, from growing with
// history nobody will read, without waiting for the next tick.
func (b *Backend) autoCompact(ctx context.Context) {
	defer close(b.autoDone)
	t := time.NewTicker(b.opts.compactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.compactNow:
		}
		target := b.rev.Load() - b.opts.compactKeep
		if target <= b.compacted.Load() {
			continue
		}
		start := time.Now()
		err := b.Compact(ctx, target)
		switch {
		case err == nil:
			b.opts.log.Debug("compacted storage history", "revision", target, "took", time.Since(start))
		case ctx.Err() != nil || errors.Is(err, storage.ErrClosed):
			return
		default:
			b.opts.log.Warn("compacting storage history", "revision", target, "err", err)
		}
	}
}

// historyLong is called by the writer after each commit: it wakes autoCompact
// once the history holds twice the revisions it keeps.
func (b *Backend) historyLong(rev, compacted int64) {
	if b.opts.compactEvery <= 0 || rev-compacted <= 2*b.opts.compactKeep {
		return
	}
	select {
	case b.compactNow <- struct{}{}:
	default: // already woken
	}
}
