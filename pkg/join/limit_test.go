package join

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// post sends a join request to h as if from the address from.
func post(h *Handler, from, secret string, req Request) *httptest.ResponseRecorder {
	body, _ := json.Marshal(req)
	r := httptest.NewRequest(http.MethodPost, JoinPath, bytes.NewReader(body))
	r.RemoteAddr = from
	r.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func limited(t *testing.T) (*Handler, Token, *clock) {
	t.Helper()
	ca := newCA(t)
	tok, err := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	h := &Handler{CA: ca, Token: tok, ClusterCIDR: "10.42.0.0/16", Passwords: memory.New()}
	h.limit.now = c.now
	return h, tok, c
}

// TestFailedJoinsBackOffTheirSource: past five failed joins a source is
// answered 429 with Retry-After, before its token is even looked at, for a
// wait that doubles up to a minute; other sources are not slowed, and once
// the wait is over the right token joins.
func TestFailedJoinsBackOffTheirSource(t *testing.T) {
	h, tok, clk := limited(t)
	good := Request{NodeName: "w1", NodePassword: pw}
	const guesser = "10.0.0.5:40000"
	for i := range freeFailures + 1 {
		if rec := post(h, guesser, fmt.Sprintf("guess-%d", i), good); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed join %d: %d %s, want 401", i+1, rec.Code, rec.Body)
		}
	}
	rec := post(h, "10.0.0.5:40001", tok.Secret, good)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("a join from a source backing off: %d Retry-After %q, want 429 after 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	var st metav1.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Reason != metav1.StatusReasonTooManyRequests ||
		st.Code != 429 || st.Details == nil || st.Details.RetryAfterSeconds != 1 || st.Kind != "Status" {
		t.Fatalf("429 body %s (%v), want a Status TooManyRequests retrying after 1s", rec.Body, err)
	}
	if rec := post(h, "10.0.0.6:40000", tok.Secret, good); rec.Code != http.StatusOK {
		t.Fatalf("another source's join: %d %s", rec.Code, rec.Body)
	}
	clk.add(time.Second)
	if rec := post(h, guesser, tok.Secret, good); rec.Code != http.StatusOK {
		t.Fatalf("the right token once the wait is over: %d %s", rec.Code, rec.Body)
	}
	// A join forgets the source's failures: it has the token.
	for range freeFailures {
		if rec := post(h, guesser, "wrong", good); rec.Code != http.StatusUnauthorized {
			t.Fatalf("a failure after a join: %d, want 401", rec.Code)
		}
	}

	// Each further failure doubles the wait, up to a minute.
	const scanner = "10.0.0.7:1"
	for range freeFailures {
		post(h, scanner, "wrong", good)
	}
	for _, want := range []string{"1", "2", "4", "8", "16", "32", "60", "60"} {
		post(h, scanner, "wrong", good)
		rec := post(h, scanner, "wrong", good)
		if got := rec.Header().Get("Retry-After"); rec.Code != http.StatusTooManyRequests || got != want {
			t.Fatalf("Retry-After %q (%d), want %s", got, rec.Code, want)
		}
		clk.add(time.Minute)
	}

	// Refused node names count as failures too.
	bound := Request{NodeName: "bound", NodePassword: pw}
	if rec := post(h, "10.0.0.8:1", tok.Secret, bound); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	h.NodeExists = func(string) bool { return true }
	for range freeFailures + 1 {
		if rec := post(h, "10.0.0.9:1", tok.Secret, Request{NodeName: "bound", NodePassword: otherPW}); rec.Code != http.StatusForbidden {
			t.Fatalf("a taken name: %d, want 403", rec.Code)
		}
	}
	if rec := post(h, "10.0.0.9:1", tok.Secret, Request{NodeName: "free", NodePassword: otherPW}); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after six taken names: %d, want 429", rec.Code)
	}

	// One IPv6 host holds a /64.
	for range freeFailures + 1 {
		post(h, "[2001:db8::1]:1", "wrong", good)
	}
	if rec := post(h, "[2001:db8::2]:1", tok.Secret, good); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d, want 429", rec.Code)
	}
	if rec := post(h, "[2001:db8:0:1::1]:1", tok.Secret, good); rec.Code != http.StatusOK {
		t.Fatalf("another /64: %d %s", rec.Code, rec.Body)
	}
}

// TestThrottledJoinIsRetryable: over TLS, Join tells a 429 apart from a
// refusal and reads how long to wait.
func TestThrottledJoinIsRetryable(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	srv := testServer(t, ca, tok)
	ctx := context.Background()
	wrong := Token{CAHash: tok.CAHash, Secret: "not-the-secret"}
	for range freeFailures + 1 {
		if _, err := Join(ctx, srv.URL, wrong, Request{NodeName: "n", NodePassword: pw}); !errors.Is(err, ErrRefused) {
			t.Fatalf("wrong secret: %v, want ErrRefused", err)
		}
	}
	_, err := Join(ctx, srv.URL, tok, Request{NodeName: "n", NodePassword: pw})
	if !errors.Is(err, ErrThrottled) || errors.Is(err, ErrRejected) || errors.Is(err, ErrRefused) {
		t.Fatalf("a join while backing off: %v, want ErrThrottled alone", err)
	}
	if got := RetryAfter(err); got != time.Second {
		t.Fatalf("RetryAfter = %s, want 1s", got)
	}
	if !strings.Contains(err.Error(), "429 too many failed join requests from 127.0.0.1") {
		t.Fatalf("error %q does not carry the server's message", err)
	}
	if RetryAfter(ErrRefused) != 0 {
		t.Fatal("RetryAfter of a refusal is not 0")
	}
}

// TestTrackedSourcesAreBounded: a scan from more addresses than the limiter
// keeps evicts the quietest; a quiet source is forgotten after ten minutes.
func TestTrackedSourcesAreBounded(t *testing.T) {
	clk := newClock()
	l := &limiter{now: clk.now}
	for i := range maxSources + 100 {
		l.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		clk.add(time.Millisecond)
	}
	if len(l.sources) != maxSources {
		t.Fatalf("%d sources kept, want %d", len(l.sources), maxSources)
	}
	if _, ok := l.sources["10.0.0.0"]; ok {
		t.Fatal("the quietest source was kept")
	}
	last := fmt.Sprintf("10.0.%d.%d", (maxSources+99)>>8&255, (maxSources+99)&255)
	if _, ok := l.sources[last]; !ok {
		t.Fatalf("the latest source %s was dropped", last)
	}
	clk.add(forgetAfter)
	l.summary("minute")
	if len(l.sources) != 0 {
		t.Fatalf("%d sources kept after ten quiet minutes", len(l.sources))
	}
}

// TestSummaryNamesTheBusiestSources: one line for a period's refusals,
// busiest first, then nothing until there are more.
func TestSummaryNamesTheBusiestSources(t *testing.T) {
	clk := newClock()
	l := &limiter{now: clk.now}
	for range 8 {
		l.failed("10.0.0.5")
	}
	if l.wait("10.0.0.5") != 4*time.Second || l.wait("10.0.0.5") != 4*time.Second {
		t.Fatal("10.0.0.5 is not backing off for 4s after eight failures")
	}
	l.failed("10.0.0.6")
	want := "join: 11 refused requests from 2 sources in the last minute (2 while backing off): 10.0.0.5 (10, backing off for 4s), 10.0.0.6 (1)"
	if got := l.summary("minute"); got != want {
		t.Fatalf("summary\n%s\nwant\n%s", got, want)
	}
	if got := l.summary("minute"); got != "" {
		t.Fatalf("summary of a quiet minute: %q", got)
	}
	for i := range summaryTop + 2 {
		for range i + 1 {
			l.failed(fmt.Sprintf("192.0.2.%d", i))
		}
	}
	want = "join: 28 refused requests from 7 sources in the last minute: 192.0.2.6 (7, backing off for 2s), 192.0.2.5 (6, backing off for 1s), 192.0.2.4 (5), 192.0.2.3 (4), 192.0.2.2 (3), and 2 more"
	if got := l.summary("minute"); got != want {
		t.Fatalf("summary\n%s\nwant\n%s", got, want)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunLogsASummaryNotEachFailure: refused joins make no log line of their
// own; Run logs one summary for them.
func TestRunLogsASummaryNotEachFailure(t *testing.T) {
	h, _, _ := limited(t)
	h.limit.now = nil
	var logs syncBuffer
	h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	h.every = 20 * time.Millisecond
	for range 3 {
		post(h, "10.0.0.5:1", "wrong", Request{NodeName: "n", NodePassword: pw})
	}
	if logs.String() != "" {
		t.Fatalf("refused joins logged before the summary: %s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "join: 3 refused requests") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a few more quiet periods
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `level=WARN msg="join: 3 refused requests from 1 source in the last 20ms: 10.0.0.5 (3)"`) {
		t.Fatalf("logged:\n%s\nwant one summary line", logs.String())
	}
}
