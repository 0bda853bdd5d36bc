package join

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage"
)

// Paths the handler serves, without authentication: the CA certificate is
// public, and the join request carries the token's secret.
const (
	CACertsPath = "/cacerts"
	JoinPath    = "/v1-skiff/join"
)

// Request is what a worker sends to join.
type Request struct {
	NodeName string `json:"nodeName"`
	NodeIP   string `json:"nodeIP,omitempty"`
	// NodePassword is the host's own secret (made once, kept in its data
	// dir): a node name stays with the host that first joined under it for as
	// long as its Node exists, so a second host with the same name is refused
	// instead of taking the node over.
	NodePassword string `json:"nodePassword"`
}

// Credentials are what a worker gets: who it is to the API server, and the
// certificate its agent port serves with.
type Credentials struct {
	CA          []byte `json:"ca"`
	ClientCert  []byte `json:"clientCert"`
	ClientKey   []byte `json:"clientKey"`
	ServingCert []byte `json:"servingCert"`
	ServingKey  []byte `json:"servingKey"`
	ClusterCIDR string `json:"clusterCIDR"`
}

// Handler serves CACertsPath and JoinPath for a server. Sources of failed
// joins are backed off (429 Too Many Requests with Retry-After); Run logs a
// periodic summary of them.
type Handler struct {
	CA          *pki.CA
	Token       Token
	ClusterCIDR string
	// Passwords is the datastore, which keeps a hash of each node's
	// password (see passwordsPrefix).
	Passwords storage.Backend
	// NodeExists reports whether a Node of that name exists; a name whose Node
	// is gone is free for any host again.
	NodeExists func(name string) bool
	// Reserved reports the node names the server runs itself (its own node,
	// hollow nodes): no host may join under them, whether or not their Node
	// exists yet.
	Reserved func(name string) bool
	// ServerToken is the token servers join with, and AddServer admits them
	// (see ServerJoinPath); without AddServer no server can join here.
	ServerToken Token
	AddServer   AddServer
	// Logger receives the periodic summary of refused joins (default: discarded).
	Logger *slog.Logger

	mu    sync.Mutex // serialises the password check and store of one join
	limit limiter
	every time.Duration // how often Run logs the summary (default a minute)
}

// APIServerName is the name nodes verify the API server's certificate by,
// whichever address they reach it at (their balancer on 127.0.0.1 names no
// server): the in-cluster name every server's certificate carries, and which
// no node's may (IsAPIServerName).
const APIServerName = "kubernetes.default.svc"

// IsAPIServerName reports whether name is one of the in-cluster names of the
// API server, which only servers' certificates may carry.
func IsAPIServerName(name string) bool {
	return name == "kubernetes" || name == "kubernetes.default" || name == APIServerName ||
		strings.HasPrefix(name, APIServerName+".")
}

// Owns reports whether path is one of the handler's.
func Owns(path string) bool { return path == CACertsPath || path == JoinPath || path == ServerJoinPath }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case CACertsPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeStatus(w, apierrors.NewMethodNotSupported(joinResource, r.Method))
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(h.CA.CertPEM())
	case JoinPath:
		h.join(w, r)
	case ServerJoinPath:
		h.joinServer(w, r)
	default:
		writeStatus(w, apierrors.NewNotFound(joinResource, r.URL.Path))
	}
}

var joinResource = metav1.SchemeGroupVersion.WithResource("join").GroupResource()

// admit answers a join request that may go no further: not a POST, from a
// source backing off (answered before anything is checked, so that guessing
// learns nothing while it waits), or without token's secret (refused with
// refusal, and counted against the source). It returns the source.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, token Token, refusal string) (string, bool) {
	if r.Method != http.MethodPost {
		writeStatus(w, apierrors.NewMethodNotSupported(joinResource, r.Method))
		return "", false
	}
	src := sourceOf(r.RemoteAddr)
	if wait := h.limit.wait(src); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		writeStatus(w, apierrors.NewTooManyRequests(
			fmt.Sprintf("too many failed join requests from %s, please try again in %ds", src, secs), secs))
		return "", false
	}
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token.Secret == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(secret)), []byte(token.Secret)) != 1 {
		h.limit.failed(src)
		writeStatus(w, apierrors.NewUnauthorized(refusal))
		return "", false
	}
	return src, true
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	src, ok := h.admit(w, r, h.Token, "the join token is not this cluster's: copy it again from the server's DATA_DIR/server/token")
	if !ok {
		return
	}
	var req Request
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("join request: %v", err)))
		return
	}
	if errs := validation.IsDNS1123Subdomain(req.NodeName); len(errs) > 0 {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("node name %q: %s", req.NodeName, strings.Join(errs, "; "))))
		return
	}
	if IsAPIServerName(req.NodeName) {
		// The node's serving certificate would name it, and nodes check the
		// API server by that name.
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("node name %q: the API server's own name, which no node may take", req.NodeName)))
		return
	}
	if len(req.NodePassword) < 16 {
		writeStatus(w, apierrors.NewBadRequest("join request: nodePassword must be at least 16 characters"))
		return
	}
	if err := h.checkPassword(r.Context(), req.NodeName, req.NodePassword); err != nil {
		if err.ErrStatus.Code == http.StatusForbidden {
			h.limit.failed(src)
		}
		writeStatus(w, err)
		return
	}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if req.NodeIP != "" {
		ip := net.ParseIP(req.NodeIP)
		if ip == nil {
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("node IP %q is not an IP address", req.NodeIP)))
			return
		}
		ips = append(ips, ip)
	}
	creds := Credentials{CA: h.CA.CertPEM(), ClusterCIDR: h.ClusterCIDR}
	var err error
	creds.ClientCert, creds.ClientKey, err = h.CA.SignClient("system:node:"+req.NodeName, []string{"system:nodes"})
	if err == nil {
		creds.ServingCert, creds.ServingKey, err = h.CA.SignServing(req.NodeName, []string{req.NodeName, "localhost"}, ips)
	}
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	h.limit.succeeded(src)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}
