package streamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// TerminalSize is one resize event of a terminal.
type TerminalSize struct {
	Width, Height uint16
}

// Process is one exec'd command or attach, with the streams the client asked
// for (nil when not).
type Process struct {
	Namespace, Pod, Container string
	// Command is nil for an attach.
	Command []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	TTY     bool
	// Resize delivers the client's terminal sizes (TTY only).
	Resize <-chan TerminalSize
}

// Builtin runs a few commands and returns the exit code:
//
//	echo ARGS...    prints ARGS to stdout
//	cat             copies stdin to stdout
//	hostname        prints the pod name
//	exit N [MSG]    prints MSG to stderr, exits N
//	winsize         prints the first terminal size as COLSxROWS
//
// An attach prints "attached to CONTAINER" and then copies stdin to stdout.
func Builtin(ctx context.Context, p *Process) int {
	out := func(s string) {
		if p.Stdout != nil {
			io.WriteString(p.Stdout, s)
		}
	}
	errOut := func(s string) {
		if p.Stderr != nil {
			io.WriteString(p.Stderr, s)
		} else {
			out(s)
		}
	}
	copyIn := func() {
		if p.Stdin != nil && p.Stdout != nil {
			io.Copy(p.Stdout, p.Stdin)
		}
	}
	if p.Command == nil {
		out("attached to " + p.Container + "\n")
		copyIn()
		return 0
	}
	switch p.Command[0] {
	case "echo":
		out(strings.Join(p.Command[1:], " ") + "\n")
	case "cat":
		copyIn()
	case "hostname":
		out(p.Pod + "\n")
	case "exit":
		code := 1
		if len(p.Command) > 1 {
			code, _ = strconv.Atoi(p.Command[1])
		}
		if len(p.Command) > 2 {
			errOut(strings.Join(p.Command[2:], " ") + "\n")
		}
		return code
	case "winsize":
		select {
		case s, ok := <-p.Resize:
			if !ok {
				errOut("no terminal\n")
				return 1
			}
			out(fmt.Sprintf("%dx%d\n", s.Width, s.Height))
		case <-time.After(10 * time.Second):
			errOut("no resize event\n")
			return 1
		case <-ctx.Done():
			return 1
		}
	default:
		errOut("streamtest: " + p.Command[0] + ": command not found\n")
		return 127
	}
	return 0
}

// execProtocols are what the containerd 1.6 streaming server negotiates.
var execProtocols = []string{
	remotecommandconsts.StreamProtocolV4Name,
	remotecommandconsts.StreamProtocolV3Name,
	remotecommandconsts.StreamProtocolV2Name,
}

// serveRemoteCommand is the SPDY side of a CRI streaming server for exec and
// attach: negotiate, collect the streams the request announced (told apart by
// their streamType header), run the command, send the v4 Status on the error
// stream and close.
func (rt *Runtime) serveRemoteCommand(w http.ResponseWriter, r *http.Request) {
	kind := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	req, ok := rt.take(r.PathValue("token"), kind)
	if !ok {
		http.Error(w, "Unknown token", http.StatusNotFound)
		return
	}
	protocol, err := httpstream.Handshake(r, w, execProtocols)
	if err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()

	expected := 1 // error
	for _, want := range []bool{req.Stdin, req.Stdout, req.Stderr && !req.TTY, req.TTY && protocol != remotecommandconsts.StreamProtocolV2Name} {
		if want {
			expected++
		}
	}
	var errStream, resizeStream httpstream.Stream
	p := &Process{Namespace: req.Namespace, Pod: req.Pod, Container: req.Container, Command: req.Command, TTY: req.TTY}
	timeout := time.After(30 * time.Second)
	for got := 0; got < expected; got++ {
		select {
		case s := <-streams:
			switch s.Headers().Get("streamType") {
			case "error":
				errStream = s
			case "stdin":
				p.Stdin = s
			case "stdout":
				p.Stdout = s
			case "stderr":
				p.Stderr = s
			case "resize":
				resizeStream = s
			}
		case <-timeout:
			return
		case <-conn.CloseChan():
			return
		}
	}
	if errStream == nil {
		return
	}
	resize := make(chan TerminalSize, 8)
	p.Resize = resize
	if resizeStream != nil {
		go func() {
			defer close(resize)
			dec := json.NewDecoder(resizeStream)
			for {
				var s TerminalSize
				if dec.Decode(&s) != nil {
					return
				}
				select {
				case resize <- s:
				default:
				}
			}
		}()
	} else {
		close(resize)
	}

	run := rt.Exec
	if run == nil {
		run = Builtin
	}
	code := run(r.Context(), p)

	status := metav1.Status{Status: metav1.StatusSuccess}
	if code != 0 {
		status = metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommandconsts.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type: remotecommandconsts.ExitCodeCauseType, Message: strconv.Itoa(code),
			}}},
		}
	}
	body, _ := json.Marshal(status)
	errStream.Write(body)
	for _, s := range []io.Writer{p.Stdout, p.Stderr} {
		if c, ok := s.(io.Closer); ok && c != nil {
			c.Close()
		}
	}
	errStream.Close()
}
