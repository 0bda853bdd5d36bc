package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testLoopback(t *testing.T, h http.HandlerFunc) (*loopback, *http.Client) {
	t.Helper()
	lb, err := newLoopback(h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.shutdown)
	return lb, &http.Client{Transport: lb}
}

// TestLoopbackRoundTrip: the handler sees a request as a server would (path,
// query, host, headers, body), and the client gets its status, headers and body.
func TestLoopbackRoundTrip(t *testing.T) {
	_, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", fmt.Sprintf("%s %s %s %s %s %q", r.Method, r.RequestURI, r.URL.Path, r.Host, r.Header.Get("X-Token"), body))
		switch r.URL.Path {
		case "/silent":
			return
		case "/sniffed":
			_, _ = w.Write([]byte("<html>hi</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	req, _ := http.NewRequest("POST", "http://skiff-loopback/api/v1/pods?limit=5", strings.NewReader("payload"))
	req.Header.Set("X-Token", "t0k")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || resp.Status != "201 Created" || string(body) != `{"ok":true}` ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %s %v %q", resp.Status, resp.Header, body)
	}
	if got, want := resp.Header.Get("X-Seen"), `POST /api/v1/pods?limit=5 /api/v1/pods skiff-loopback t0k "payload"`; got != want {
		t.Fatalf("the handler saw %s, want %s", got, want)
	}

	// A request's own Host, when it names one, is what the handler sees.
	req, _ = http.NewRequest("GET", "http://skiff-loopback/version", nil)
	req.Host = "api.example"
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Seen"); !strings.HasPrefix(got, "GET /version /version api.example ") {
		t.Fatalf("with its own Host the handler saw %s", got)
	}

	for path, want := range map[string]string{"/silent": "", "/sniffed": "text/html; charset=utf-8"} {
		resp, err := c.Get("http://skiff-loopback" + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != want {
			t.Fatalf("%s: %s with Content-Type %q, want 200 with %q", path, resp.Status, resp.Header.Get("Content-Type"), want)
		}
	}
}

// TestLoopbackStreams: an answer reaches the client while the handler goes on,
// as a watch needs; closing the body ends the handler's request and fails its
// writes, as closing a connection would.
func TestLoopbackStreams(t *testing.T) {
	ended := make(chan error, 1)
	_, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("event-1\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		_, err := w.Write([]byte("event-2\n"))
		ended <- err
	})
	resp, err := c.Get("http://skiff-loopback/watch")
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("event-1\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "event-1\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	select {
	case err := <-ended:
		t.Fatalf("the handler ended before the client let go: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	resp.Body.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, errClosedBody) {
			t.Fatalf("a write after the client closed the body returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the body did not end the handler's request")
	}
}

// TestLoopbackCancel: a client that gives up before any answer gets its
// context's error, and the handler's request ends with it.
func TestLoopbackCancel(t *testing.T) {
	ended := make(chan struct{})
	_, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(ended)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://skiff-loopback/slow", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's request did not end with the client's")
	}
}

// TestLoopbackShutdown: at shutdown every request in flight ends, so a watch
// stream ends instead of hanging.
func TestLoopbackShutdown(t *testing.T) {
	lb, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	resp, err := c.Get("http://skiff-loopback/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	read := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); read <- err }()
	lb.shutdown()
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("the stream ended with %v, want its end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived the shutdown")
	}
	if _, err := c.Get("http://skiff-loopback/version"); !errors.Is(err, errShutDown) {
		t.Fatalf("a request after shutdown: %v, want %v", err, errShutDown)
	}
}

// TestLoopbackPanic: a handler that panics fails its own request, not the
// process: before answering, the round trip errs; after, the body does.
func TestLoopbackPanic(t *testing.T) {
	_, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			_, _ = w.Write([]byte("partial"))
		}
		panic("boom")
	})
	if resp, err := c.Get("http://skiff-loopback/early"); err == nil {
		resp.Body.Close()
		t.Fatalf("a panic before the answer gave %s", resp.Status)
	}
	resp, err := c.Get("http://skiff-loopback/late")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || string(body) != "partial" {
		t.Fatalf("a panic after the answer: body %q, error %v; want the partial body and an error", body, err)
	}
}

// TestLoopbackPipeBounded: a handler may run ahead of its reader by the pipe's
// limit and no more, and everything it wrote arrives in order.
func TestLoopbackPipeBounded(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*pipeLimit/16)
	wrote := make(chan int, 1)
	_, c := testLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := w.Write(data)
		wrote <- n
	})
	resp, err := c.Get("http://skiff-loopback/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case n := <-wrote:
		t.Fatalf("a write of %d bytes finished with no reader", n)
	case <-time.After(50 * time.Millisecond):
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes, equal %v, error %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	if n := <-wrote; n != len(data) {
		t.Fatalf("the handler wrote %d of %d bytes", n, len(data))
	}
}
