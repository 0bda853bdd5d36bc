package join

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Failed joins (a wrong token, a node name another host holds) back their
// source off: the first freeFailures are free (a mistyped token, an agent
// restarted by its supervisor), then each further one doubles the wait from
// firstBackoff up to maxBackoff. A successful join forgets its source; so
// does a quiet forgetAfter.
const (
	freeFailures = 5
	firstBackoff = time.Second
	maxBackoff   = time.Minute
	forgetAfter  = 10 * time.Minute
	// maxSources bounds what is remembered; past it the source quiet for
	// longest is forgotten first.
	maxSources = 4096
	// summaryTop is how many sources a summary names.
	summaryTop = 5
)

// limiter keeps the failed join requests of each source address.
type limiter struct {
	now func() time.Time // time.Now; tests move it by hand

	mu      sync.Mutex
	sources map[string]*source
	// Since the last summary: refused requests, those answered 429, and the
	// sources they came from.
	refused, throttled, from int
}

type source struct {
	failures int       // consecutive failed requests
	last     time.Time // the latest of them
	until    time.Time // requests before this are answered 429
	refused  int       // requests refused since the last summary
}

// sourceOf is the address a request is limited by: its IPv4 address, or the
// /64 of its IPv6 address (one host holds a whole /64).
func sourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return host
	case ip.To4() != nil:
		return ip.To4().String()
	default:
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
	}
}

func (l *limiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// wait reports how long src must still wait; a request it refuses counts.
func (l *limiter) wait(src string) time.Duration {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[src]
	if s == nil || !now.Before(s.until) {
		return 0
	}
	l.count(s)
	l.throttled++
	return s.until.Sub(now)
}

// failed counts a refused join from src and backs it off past freeFailures.
func (l *limiter) failed(src string) {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[src]
	if s == nil {
		if l.sources == nil {
			l.sources = map[string]*source{}
		}
		if len(l.sources) >= maxSources {
			l.evict(now)
		}
		s = &source{}
		l.sources[src] = s
	}
	l.count(s)
	s.failures++
	s.last = now
	if over := s.failures - freeFailures; over > 0 {
		d := maxBackoff
		if over <= 16 {
			d = min(firstBackoff<<(over-1), maxBackoff)
		}
		s.until = now.Add(d)
	}
}

// succeeded forgets src: it holds the token.
func (l *limiter) succeeded(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sources, src)
}

func (l *limiter) count(s *source) {
	if s.refused == 0 {
		l.from++
	}
	s.refused++
	l.refused++
}

// evict makes room for one more source: the forgotten ones go, or else the
// one quiet for longest. Called with mu held.
func (l *limiter) evict(now time.Time) {
	l.forget(now)
	if len(l.sources) < maxSources {
		return
	}
	var oldest string
	for src, s := range l.sources {
		if oldest == "" || s.last.Before(l.sources[oldest].last) {
			oldest = src
		}
	}
	delete(l.sources, oldest)
}

// forget drops the sources quiet for forgetAfter. Called with mu held.
func (l *limiter) forget(now time.Time) {
	for src, s := range l.sources {
		if now.Sub(s.last) >= forgetAfter && !now.Before(s.until) {
			delete(l.sources, src)
		}
	}
}

// summary describes the refused requests since the last summary, busiest
// sources first, and starts counting again; "" when there were none.
func (l *limiter) summary(period string) string {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.forget(now)
	if l.refused == 0 {
		return ""
	}
	type busy struct {
		src string
		*source
	}
	var top []busy
	for src, s := range l.sources {
		if s.refused > 0 {
			top = append(top, busy{src, s})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].refused != top[j].refused {
			return top[i].refused > top[j].refused
		}
		return top[i].src < top[j].src
	})
	var b strings.Builder
	fmt.Fprintf(&b, "join: %d refused %s from %d %s in the last %s", l.refused, plural(l.refused, "request"), l.from, plural(l.from, "source"), period)
	if l.throttled > 0 {
		fmt.Fprintf(&b, " (%d while backing off)", l.throttled)
	}
	for i, s := range top {
		if i == summaryTop {
			fmt.Fprintf(&b, ", and %d more", len(top)-summaryTop)
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s (%d", sep, s.src, s.refused)
		if wait := s.until.Sub(now); wait > 0 {
			fmt.Fprintf(&b, ", backing off for %s", wait.Round(time.Second))
		}
		b.WriteString(")")
	}
	for _, s := range top {
		s.refused = 0
	}
	l.refused, l.throttled, l.from = 0, 0, 0
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Run logs a summary of the refused join requests once a minute (rather than
// a line for each, which a scan would turn into a flood) until ctx ends.
func (h *Handler) Run(ctx context.Context) error {
	every, period := h.every, "minute"
	if every <= 0 {
		every = time.Minute
	} else if every != time.Minute {
		period = every.String()
	}
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if line := h.limit.summary(period); line != "" {
				log.Warn(line)
			}
		}
	}
}
