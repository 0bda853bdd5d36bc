package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// serveLog streams GET pods/NAME/log from the agent's /containerLogs,
// flushing every chunk as it arrives so that follow is live.
func (p *Proxy) serveLog(w http.ResponseWriter, r *http.Request, namespace, name string) {
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
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
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

func badGateway(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadGateway, Message: msg,
	}}
}
