package bolt

import (
	"context"
	"errors"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// autoCompact keeps the last compactKeep revisions of history, checking every
// compactEvery, until ctx ends.
func (b *Backend) autoCompact(ctx context.Context) {
	defer close(b.autoDone)
	t := time.NewTicker(b.opts.compactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
