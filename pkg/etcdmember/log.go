package etcdmember

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietMessages are warnings etcd logs in the normal course of the way
// Skiff runs it; they go to slog at debug level so the server's log keeps to
// what needs a human. An entry matches on its message's start and, where
// err is set, on its error's text.
var quietMessages = []struct{ msg, err string }{
	// The client port carries both gRPC and HTTP on purpose: Skiff only
	// speaks gRPC to it.
	{msg: "Running http and grpc server on single port"},
	// PromoteWhenReady asks until the learner has caught up; each early
	// answer is logged by the leader as an error.
	{msg: "rejecting promote learner: learner is not ready"},
	// Skiff leaves etcd's authentication off (the CA is the gate), and so
	// its simple tokens are never handed out.
	{msg: "simple token is not cryptographically signed"},
	// The client logs each retry of a request; the caller gets the error
	// if the retries run out.
	{msg: "retrying of unary invoker failed"},
	// A member that has just joined has no raft term on disk until its
	// first snapshot; etcd's storage version check says so and passes.
	{msg: "Failed to detect schema version", err: "missing term information"},
	{msg: "failed to update storage version", err: "missing term information"},
	// AddLearner and Remove wait through these (see whileUnhealthy).
	{msg: "rejecting member add request; local member has not been connected"},
	{msg: "rejecting member remove request; local member has not been connected"},
	// A member closes its streams to its peers when it stops; a peer that
	// goes away is still reported, as "lost" and "inactive".
	{msg: "closed TCP streaming connection with remote peer"},
	// A member that Start gives up on is stopped before it serves clients;
	// Start returns why.
	{msg: "setting up serving from embedded etcd failed", err: "server is stopping"},
}

// quiet reports whether an entry is routine rather than news: a known
// message, or an error that only says a listener, server or stream was
// closed or cancelled, which is what every stop looks like.
func quiet(e zapcore.Entry, fields []zapcore.Field) bool {
	var errs []error
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
				return true
			}
			errs = append(errs, err)
		}
	}
	for _, q := range quietMessages {
		if strings.HasPrefix(e.Message, q.msg) &&
			(q.err == "" || slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), q.err) })) {
			return true
		}
	}
	return false
}

// zapLogger is a zap logger for etcd that writes its warnings and errors to
// log; etcd logs every step of a healthy start at info level, which a Skiff
// server has no use for.
func zapLogger(log *slog.Logger) *zap.Logger {
	return zap.New(&slogCore{h: log.Handler()})
}

type slogCore struct {
	h     slog.Handler
	attrs []slog.Attr
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.WarnLevel && c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h, attrs: append(slices.Clip(c.attrs), attrs(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slogLevel(e.Level)
	if quiet(e, fields) {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !c.h.Enabled(ctx, level) {
		return nil
	}
	r := slog.NewRecord(e.Time, level, e.Message, 0)
	r.AddAttrs(c.attrs...)
	r.AddAttrs(attrs(fields)...)
	return c.h.Handle(ctx, r)
}

func (c *slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l >= zapcore.WarnLevel:
		return slog.LevelWarn
	case l >= zapcore.InfoLevel:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// attrs turns zap fields into slog attributes, sorted by key so that a log
// line reads the same every time.
func attrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, slog.Any(k, v))
	}
	slices.SortFunc(out, func(a, b slog.Attr) int { return strings.Compare(a.Key, b.Key) })
	return out
}
