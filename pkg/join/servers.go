package join

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ServerJoinPath is where a server joins the cluster of another: with the
// server token (not the agents' join token: a worker must not become a
// server), it trades its etcd member's name and peer URL for a place in the
// cluster's etcd and the cluster's keys.
const ServerJoinPath = "/v1-skiff/server-join"

// ServerRequest is what a joining server sends.
type ServerRequest struct {
	Name    string `json:"name"`
	PeerURL string `json:"peerURL"`
}

// ServerCredentials is what it gets: the etcd cluster its member starts into
// ("name=https://ip:2380,..."), and the files that make it a server of this
// cluster (the CA, the signing keys, the tokens), by their path under the
// server's directory.
type ServerCredentials struct {
	InitialCluster string            `json:"initialCluster"`
	Files          map[string][]byte `json:"files"`
}

// AddServer admits a joining server (see Handler.AddServer).
type AddServer func(ctx context.Context, req ServerRequest) (*ServerCredentials, error)

func (h *Handler) joinServer(w http.ResponseWriter, r *http.Request) {
	src, ok := h.admit(w, r, h.ServerToken, "the server token is not this cluster's (servers join with DATA_DIR/server/server-token, not the agents' token)")
	if !ok {
		return
	}
	if h.AddServer == nil {
		writeStatus(w, apierrors.NewBadRequest("this server keeps the cluster's state in no embedded etcd: servers join one started with --cluster-init"))
		return
	}
	var req ServerRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("server join request: %v", err)))
		return
	}
	if errs := validation.IsDNS1123Subdomain(req.Name); len(errs) > 0 {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("server name %q: %s", req.Name, strings.Join(errs, "; "))))
		return
	}
	if u, err := url.Parse(req.PeerURL); err != nil || u.Scheme != "https" || u.Port() == "" || u.Path != "" {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("peer URL %q: want https://IP:PORT", req.PeerURL)))
		return
	}
	creds, err := h.AddServer(r.Context(), req)
	if err != nil {
		if se := (*apierrors.StatusError)(nil); errors.As(err, &se) {
			writeStatus(w, se)
			return
		}
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	h.limit.succeeded(src)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

// JoinServer verifies the server at serverURL against the server token's CA
// hash and asks it to admit this server.
func JoinServer(ctx context.Context, serverURL string, token Token, req ServerRequest) (*ServerCredentials, error) {
	verified, base, err := Verified(ctx, serverURL, token)
	if err != nil {
		return nil, err
	}
	// Adding an etcd member may wait out etcd's five seconds after a change.
	verified.Timeout = 2 * time.Minute
	var creds ServerCredentials
	if err := Exchange(ctx, verified, base+ServerJoinPath, token, req, &creds); err != nil {
		return nil, err
	}
	return &creds, nil
}

// Unavailable is the answer to a server that may join later (another is
// joining, the etcd cluster is not healthy yet): 503 with a Retry-After,
// which JoinServer's callers wait out.
func Unavailable(err error, retryAfter time.Duration) *apierrors.StatusError {
	se := apierrors.NewServiceUnavailable(err.Error())
	se.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: int32(retryAfter / time.Second)}
	return se
}
