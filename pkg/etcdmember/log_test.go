package etcdmember

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestZapLogger(t *testing.T) {
	closed := &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
	for _, tt := range []struct {
		name  string
		log   func(*zap.Logger)
		level slog.Level // handler's level
		want  string     // "" when nothing is written
	}{
		{"info is dropped", func(l *zap.Logger) { l.Info("starting an etcd server") }, slog.LevelDebug, ""},
		{"warning", func(l *zap.Logger) { l.Warn("peer became inactive", zap.String("peer-id", "ab")) }, slog.LevelInfo,
			`level=WARN msg="peer became inactive" member=m peer-id=ab`},
		{"error with an error", func(l *zap.Logger) { l.Error("server error", zap.Error(errors.New("boom"))) }, slog.LevelInfo,
			`level=ERROR msg="server error" member=m error=boom`},
		{"closed listener is routine", func(l *zap.Logger) { l.Error("serving failed", zap.Error(fmt.Errorf("x: %w", closed))) }, slog.LevelInfo, ""},
		{"closed listener at debug", func(l *zap.Logger) { l.Error("serving failed", zap.Error(closed)) }, slog.LevelDebug,
			`level=DEBUG msg="serving failed" member=m error="accept tcp: use of closed network connection"`},
		{"known message", func(l *zap.Logger) { l.Warn("simple token is not cryptographically signed") }, slog.LevelInfo, ""},
		{"known message wants its error", func(l *zap.Logger) {
			l.Error("failed to update storage version", zap.Error(errors.New("cannot create migration plan")))
		}, slog.LevelInfo, `level=ERROR msg="failed to update storage version" member=m error="cannot create migration plan"`},
		{"known message with its error", func(l *zap.Logger) {
			l.Error("failed to update storage version", zap.Error(errors.New("cannot detect storage schema version: missing term information")))
		}, slog.LevelInfo, ""},
		{"handler above warn", func(l *zap.Logger) { l.Warn("lost TCP streaming connection") }, slog.LevelError, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}})
			tt.log(zapLogger(slog.New(h)).With(zap.String("member", "m")))
			if got := strings.TrimSpace(buf.String()); got != tt.want {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
	if zapLogger(slog.New(slog.DiscardHandler)).Core().Enabled(zap.ErrorLevel) {
		t.Error("a discarding logger asks etcd for errors")
	}
}
