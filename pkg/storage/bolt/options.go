package bolt

import (
	"log/slog"
	"time"
)

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout  time.Duration
	watchBuffer  int
	compactEvery time.Duration
	compactKeep  int64
	log          *slog.Logger
}

func defaultOptions() options {
	return options{
		lockTimeout: 10 * time.Second,
		log:         slog.New(slog.DiscardHandler),
	}
}

// WithAutoCompact compacts history every interval, and as soon as it holds twice
// keep revisions, keeping the last keep revisions available to Watch. It is off by
// default.
func WithAutoCompact(every time.Duration, keep int64) Option {
	return func(o *options) {
		o.compactEvery = every
		o.compactKeep = keep
	}
}

// WithWatchBuffer sets how many events a watcher may lag behind before its channel is
// closed (default 1024).
func WithWatchBuffer(n int) Option { return func(o *options) { o.watchBuffer = n } }

// WithLockTimeout bounds how long Open waits for another process to release the file
// (default 10s). Zero waits forever.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithLogger sets where background work (automatic compaction) reports. The default
// discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }
