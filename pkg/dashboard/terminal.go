package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// A terminal is a shell in a container, run through the API server's
// pods/exec as the user, and carried to the page over a WebSocket (what a
// browser speaks; the exec itself is SPDY, as every kubectl's). Its messages
// are binary, their first byte a channel as in Kubernetes' stream protocols:
// 0 the page's keystrokes, 4 the page's terminal size as
// {"Width":W,"Height":H}, 1 the shell's output, 3 why the session ended.
//
// A browser cannot put a header on a WebSocket, so the page first asks for a
// ticket with a POST that carries the dashboard's header (which another
// site's page cannot send), and opens the socket with it: a ticket is good
// once, for a short while, for the user it was issued to.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStatus = 3
	chanResize = 4

	ticketLife = 30 * time.Second
	maxTickets = 1024
)

// shell starts bash where the image has it, else sh.
var shell = []string{"sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh"}

type ticket struct {
	user                      apiserver.User
	namespace, pod, container string
	expires                   time.Time
}

// tickets are the terminal tickets issued and not used yet.
type tickets struct {
	mu   sync.Mutex
	byID map[string]ticket
}

func (ts *tickets) issue(t ticket) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := time.Now()
	for k, v := range ts.byID {
		if now.After(v.expires) {
			delete(ts.byID, k)
		}
	}
	if len(ts.byID) >= maxTickets {
		return "", errors.New("too many terminals are being opened; try again in a moment")
	}
	t.expires = now.Add(ticketLife)
	ts.byID[id] = t
	return id, nil
}

// take spends a ticket: it is good once, before it expires, for its user.
func (ts *tickets) take(id string, user apiserver.User) (ticket, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[id]
	delete(ts.byID, id)
	if !ok || time.Now().After(t.expires) || t.user.Name != user.Name || !slices.Equal(t.user.Groups, user.Groups) {
		return ticket{}, false
	}
	return t, true
}

// serveTicket answers POST term-token {"namespace","pod","container"}.
func (h *Handler) serveTicket(w http.ResponseWriter, r *http.Request, user apiserver.User) {
	if r.Method != http.MethodPost {
		writeStatus(w, status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "a terminal ticket is asked for with POST"))
		return
	}
	var body struct{ Namespace, Pod, Container string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "a terminal ticket needs {\"namespace\", \"pod\", \"container\"}: "+err.Error()))
		return
	}
	for _, check := range []struct{ what, v string }{{"namespace", body.Namespace}, {"container", body.Container}} {
		if errs := validation.IsDNS1123Label(check.v); len(errs) > 0 {
			writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("%s %q: %s", check.what, check.v, errs[0])))
			return
		}
	}
	if errs := validation.IsDNS1123Subdomain(body.Pod); len(errs) > 0 {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("pod %q: %s", body.Pod, errs[0])))
		return
	}
	id, err := h.tickets.issue(ticket{user: user, namespace: body.Namespace, pod: body.Pod, container: body.Container})
	if err != nil {
		writeStatus(w, status(http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": id})
}

// serveTerminal answers the WebSocket of term?token=T&cols=C&rows=R.
func (h *Handler) serveTerminal(w http.ResponseWriter, r *http.Request, user apiserver.User) {
	t, ok := h.tickets.take(r.URL.Query().Get("token"), user)
	if !ok {
		writeStatus(w, status(http.StatusForbidden, metav1.StatusReasonForbidden, "this terminal's ticket is not valid (they are good once, for 30 s, for the user they were issued to): reconnect from the page"))
		return
	}
	// The ticket stands for the origin check: only the page could get it.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	stdin, keys := net.Pipe()
	defer stdin.Close()
	sizes := &sizeQueue{c: make(chan remotecommand.TerminalSize, 1), ctx: ctx}
	if cols, err := strconv.Atoi(r.URL.Query().Get("cols")); err == nil {
		rows, _ := strconv.Atoi(r.URL.Query().Get("rows"))
		sizes.set(remotecommand.TerminalSize{Width: uint16(cols), Height: uint16(rows)})
	}
	go func() {
		defer cancel()
		defer keys.Close()
		for {
			_, msg, err := c.Read(ctx)
			if err != nil || len(msg) == 0 {
				return
			}
			switch msg[0] {
			case chanStdin:
				if _, err := keys.Write(msg[1:]); err != nil {
					return
				}
			case chanResize:
				var s remotecommand.TerminalSize
				if json.Unmarshal(msg[1:], &s) == nil {
					sizes.set(s)
				}
			}
		}
	}()
	out := socketWriter{ctx: ctx, c: c}
	err = h.execAs(ctx, user, t, remotecommand.StreamOptions{Stdin: stdin, Stdout: out, Tty: true, TerminalSizeQueue: sizes})
	end := "exit code 0"
	var exit utilexec.CodeExitError
	switch {
	case errors.As(err, &exit):
		end = fmt.Sprintf("exit code %d", exit.Code)
	case err != nil:
		end = err.Error()
	}
	_ = c.Write(ctx, websocket.MessageBinary, append([]byte{chanStatus}, end...))
	c.Close(websocket.StatusNormalClosure, "")
}

// execAs runs the shell in t's container through the API server as user, so
// that the API server authorizes the exec (create pods/exec) for them and
// carries it to the pod's node as it does kubectl's. client-go's SPDY client
// needs a TCP connection: it gets a loopback listener of its own that serves
// one request, as user, to the holder of a random secret.
func (h *Handler) execAs(ctx context.Context, user apiserver.User, t ticket, streams remotecommand.StreamOptions) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("a terminal needs a loopback port: %w", err)
	}
	defer l.Close()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	secret := hex.EncodeToString(b)
	var once sync.Once
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			writeStatus(w, status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized"))
			return
		}
		once.Do(func() { l.Close() }) // one exec, then no one else
		r.Header.Del("Authorization")
		h.api.ServeAs(w, r, user)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	host := l.Addr().String()
	q := url.Values{"container": {t.container}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}, "command": shell}
	u := &url.URL{Scheme: "http", Host: host, RawQuery: q.Encode(),
		Path: fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/exec", t.namespace, t.pod)}
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: "http://" + host, BearerToken: secret}, http.MethodPost, u)
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, streams)
}

// socketWriter sends what it is given as the shell's output.
type socketWriter struct {
	ctx context.Context
	c   *websocket.Conn
}

func (s socketWriter) Write(p []byte) (int, error) {
	if err := s.c.Write(s.ctx, websocket.MessageBinary, append([]byte{chanStdout}, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sizeQueue hands the exec the page's latest terminal size.
type sizeQueue struct {
	c   chan remotecommand.TerminalSize
	ctx context.Context
}

func (q *sizeQueue) set(s remotecommand.TerminalSize) {
	if s.Width == 0 || s.Height == 0 {
		return
	}
	select {
	case <-q.c: // an older size nobody took yet
	default:
	}
	q.c <- s
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s := <-q.c:
		return &s
	case <-q.ctx.Done():
		return nil
	}
}
