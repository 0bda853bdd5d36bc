package etcd

// Option configures New and Open.
type Option func(*options)

type options struct {
	watchBuffer int
	pageSize    int64
	closeClient bool
}

const (
	defaultWatchBuffer = 1024
	defaultPageSize    = 500
)

func defaultOptions() options {
	return options{watchBuffer: defaultWatchBuffer, pageSize: defaultPageSize}
}

// WithWatchBuffer sets how many events a watcher may lag behind before its channel is
// closed (default 1024; zero or less means the default).
func WithWatchBuffer(n int) Option {
	return func(o *options) {
		if o.watchBuffer = n; n <= 0 {
			o.watchBuffer = defaultWatchBuffer
		}
	}
}

// WithCloseClient makes Close close the client given to New.
func WithCloseClient() Option { return func(o *options) { o.closeClient = true } }

// withPageSize sets how many keys one List request reads (default 500), so that a
// large prefix is read in pages rather than one response held whole by etcd, gRPC
// and the caller at once.
func withPageSize(n int64) Option {
	return func(o *options) {
		if o.pageSize = n; n <= 0 {
			o.pageSize = defaultPageSize
		}
	}
}
