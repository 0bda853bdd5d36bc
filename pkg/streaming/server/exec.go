package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// serveExec answers /exec/NS/POD/CONTAINER?command=...&input=1&output=1&error=1&tty=1
// and /attach/... (no command) by joining the SPDY upgrade to the runtime's
// streaming URL for that request.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request, kind, namespace, pod, container string) {
	if wire.UpgradeProtocol(r) != wire.SPDY {
		wire.RefuseUpgrade(w, r, kind)
		return
	}
	command, streams, err := podopts.FromNodeQuery(r.URL.Query())
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	var u string
	if kind == "exec" {
		if len(command) == 0 {
			wire.WriteStatus(w, apierrors.NewBadRequest("you must specify a command to exec"))
			return
		}
		u, err = s.cfg.Runtime.ExecURL(r.Context(), namespace, pod, container, command, streams.Stdin, streams.Stdout, streams.Stderr, streams.TTY)
	} else {
		u, err = s.cfg.Runtime.AttachURL(r.Context(), namespace, pod, container, streams.Stdin, streams.Stdout, streams.Stderr, streams.TTY)
	}
	s.join(w, r, u, err)
}

// servePortForward answers /portForward/NS/POD[?port=P,...].
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, namespace, pod string) {
	if wire.UpgradeProtocol(r) != wire.SPDY {
		wire.RefuseUpgrade(w, r, "portforward")
		return
	}
	ports, err := podopts.Ports(r.URL.Query(), "port")
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	u, err := s.cfg.Runtime.PortForwardURL(r.Context(), namespace, pod, ports)
	s.join(w, r, u, err)
}

// join relays the upgrade to the streaming URL the runtime answered.
func (s *Server) join(w http.ResponseWriter, r *http.Request, streamURL string, err error) {
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	target, err := url.Parse(streamURL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		wire.WriteStatus(w, fmt.Errorf("the container runtime answered an unusable streaming URL %q", streamURL))
		return
	}
	s.relay.Upgrade(w, r, target)
}

func (s *Server) dialRuntime(ctx context.Context, target *url.URL) (net.Conn, error) {
	return wire.DialURL(ctx, nil, target, s.cfg.RuntimeTLS)
}
