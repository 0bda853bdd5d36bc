package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wsbridge"
)

// serveLog streams GET pods/NAME/log from the agent's /containerLogs,
// flushing every chunk as it arrives so that follow is live. A WebSocket
// request gets the same bytes in messages once the agent answered 200; any
// error before is a plain Status, as upstream answers.
func (p *Proxy) serveLog(w http.ResponseWriter, r *http.Request, namespace, name string) {
	websocket := wire.UpgradeProtocol(r) == wire.WebSocket
	var protocol string
	if websocket {
		var err error
		if protocol, err = wsbridge.LogProtocol(r); err != nil {
			wire.WriteStatus(w, err)
			return
		}
	}
	opts, err := podopts.Log(r.URL.Query(), name)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	pod, err := p.getter.GetPod(r.Context(), namespace, name)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	container, err := containerFor(pod, opts.Container)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if pod.Spec.NodeName == "" {
		// Upstream answers an unscheduled pod's log with an empty body.
		if websocket {
			wsbridge.ServeLog(w, r, protocol, http.NoBody)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	host, err := p.agentHost(r.Context(), pod.Spec.NodeName)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	u := &url.URL{
		Scheme:   "https",
		Host:     host,
		Path:     fmt.Sprintf("/containerLogs/%s/%s/%s", namespace, name, container),
		RawQuery: podopts.LogQuery(opts).Encode(),
	}
	// A WebSocket client's departure is seen by the bridge, not by r's
	// context (its connection is hijacked): cancelling ends the agent's side.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	resp, err := p.logs.Do(req)
	if err != nil {
		wire.WriteStatus(w, badGateway(fmt.Sprintf("error trying to reach the node agent: %v", err)))
		return
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		wire.WriteStatus(w, badGateway("the backend attempted to redirect this request, which is not permitted"))
		return
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		wire.WriteStatus(w, wire.StatusFromResponse(resp.StatusCode, body))
		return
	}
	if websocket {
		wsbridge.ServeLog(w, r, protocol, cancelOnClose{resp.Body, cancel})
		return
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// cancelOnClose is a response body whose Close also ends its request, so
// that a Read blocked on a follower's next line returns.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	c.cancel()
	return c.ReadCloser.Close()
}

func badGateway(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadGateway, Message: msg,
	}}
}
