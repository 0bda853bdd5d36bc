package wire

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Protocol is what an upgrade request asks to switch to.
type Protocol int

const (
	// NoUpgrade is a plain request.
	NoUpgrade Protocol = iota
	// SPDY is "Upgrade: SPDY/3.1", what every kubectl speaks.
	SPDY
	// WebSocket is "Upgrade: websocket" (kubectl 1.30+ exec and attach, 1.31+
	// port-forward, tried first).
	WebSocket
	// OtherUpgrade is any other protocol.
	OtherUpgrade
)

// UpgradeProtocol classifies r.
func UpgradeProtocol(r *http.Request) Protocol {
	if !hasToken(r.Header.Values("Connection"), "upgrade") {
		return NoUpgrade
	}
	up := r.Header.Values("Upgrade")
	switch {
	case len(up) == 0:
		return NoUpgrade
	case hasToken(up, "SPDY/3.1"):
		return SPDY
	case hasToken(up, "websocket"):
		return WebSocket
	}
	return OtherUpgrade
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// RefuseUpgrade answers an upgrade this path does not carry. A WebSocket
// request gets a 400 Status: kubectl 1.30+ treats any answer but 101 to its
// WebSocket attempt as an upgrade failure and retries over SPDY/3.1 (the
// agent and nodes/proxy speak only SPDY; the API server's pod streams
// translate WebSocket themselves).
func RefuseUpgrade(w http.ResponseWriter, r *http.Request, what string) {
	switch UpgradeProtocol(r) {
	case WebSocket:
		WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("%s over WebSocket is not supported by this server; use SPDY/3.1 (kubectl falls back to it by itself)", what)))
	case NoUpgrade:
		WriteStatus(w, apierrors.NewBadRequest("Upgrade request required"))
	default:
		WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("%s: unsupported upgrade %q; use SPDY/3.1", what, r.Header.Get("Upgrade"))))
	}
}
