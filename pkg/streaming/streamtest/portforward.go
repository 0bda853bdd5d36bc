package streamtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	portforwardconsts "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// ReadWriteCloser is one forwarded connection; Close ends the sending half.
type ReadWriteCloser = io.ReadWriteCloser

// Echo is the default port-forward behaviour: every byte comes back.
func Echo(_ context.Context, _ string, _ int32, conn ReadWriteCloser) error {
	_, err := io.Copy(conn, conn)
	return err
}

// servePortForward is the SPDY side of a CRI streaming server for
// port-forward: each forwarded connection is a pair of streams (streamType
// error and data) sharing a requestID header, with the port in a port header.
func (rt *Runtime) servePortForward(w http.ResponseWriter, r *http.Request) {
	req, ok := rt.take(r.PathValue("token"), "portforward")
	if !ok {
		http.Error(w, "Unknown token", http.StatusNotFound)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{portforwardconsts.PortForwardV1Name}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		port, err := strconv.ParseUint(s.Headers().Get("port"), 10, 16)
		if err != nil || port == 0 {
			return fmt.Errorf("invalid port header %q", s.Headers().Get("port"))
		}
		if t := s.Headers().Get("streamType"); t != "error" && t != "data" {
			return fmt.Errorf("invalid stream type %q", t)
		}
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	conn.SetIdleTimeout(5 * time.Minute)

	forward := rt.PortForward
	if forward == nil {
		forward = Echo
	}
	type pair struct{ data, errs httpstream.Stream }
	pairs := map[string]*pair{}
	for {
		select {
		case <-conn.CloseChan():
			return
		case <-r.Context().Done():
			return
		case s := <-streams:
			id := s.Headers().Get("requestID")
			p := pairs[id]
			if p == nil {
				p = &pair{}
				pairs[id] = p
			}
			if s.Headers().Get("streamType") == "data" {
				p.data = s
			} else {
				p.errs = s
			}
			if p.data == nil || p.errs == nil {
				continue
			}
			delete(pairs, id)
			port, _ := strconv.ParseUint(p.data.Headers().Get("port"), 10, 16)
			go func() {
				defer conn.RemoveStreams(p.data, p.errs)
				defer p.errs.Close()
				defer p.data.Close()
				if err := forward(r.Context(), req.Pod, int32(port), p.data); err != nil {
					fmt.Fprintf(p.errs, "error forwarding port %d to pod %s: %v", port, req.Pod, err)
				}
			}()
		}
	}
}
