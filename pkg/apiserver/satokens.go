package apiserver

import (
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
)

// Token lifetimes a TokenRequest may ask for, as upstream's: an hour by
// default, no less than ten minutes, no more than 2^32 seconds.
const (
	defaultTokenSeconds = 3600
	minTokenSeconds     = 600
	maxTokenSeconds     = 1 << 32
)

// serviceAccountTokens issues and verifies the cluster's service-account
// tokens; nil without Config.ServiceAccountKey.
type serviceAccountTokens struct {
	issuer   *serviceaccount.Issuer
	verifier *serviceaccount.Verifier
}

func newServiceAccountTokens(s *Server) (*serviceAccountTokens, error) {
	key := s.cfg.ServiceAccountKey
	if key == nil {
		return nil, nil
	}
	issuer, err := serviceaccount.NewIssuer(s.cfg.ServiceAccountIssuer, key)
	if err != nil {
		return nil, err
	}
	verifier, err := serviceaccount.NewVerifier(serviceaccount.VerifierConfig{
		Issuers: []string{issuer.URL()}, Keys: []crypto.PublicKey{key.Public()}, Getter: uids{s},
		// Legacy tokens, which the tokens controller keeps in Secrets.
		Secrets: uids{s}, LegacyTokenUsed: s.cfg.LegacyTokenUsed,
	})
	if err != nil {
		return nil, err
	}
	return &serviceAccountTokens{issuer: issuer, verifier: verifier}, nil
}

// authenticate is who a service-account token is, if it is one this
// server issued and its objects still exist.
func (t *serviceAccountTokens) authenticate(token string) (User, bool) {
	if t == nil {
		return User{}, false
	}
	c, err := t.verifier.Verify(token, time.Now())
	if err != nil {
		return User{}, false
	}
	return saUser(c.User()), true
}

// uids reads the bound objects' UIDs from the cache, for the verifier.
type uids struct{ s *Server }

func (g uids) uid(resource, namespace, name string) (string, bool) {
	m, ok := GetObject(g.s, "v1", resource, namespace, name).(metav1.Object)
	if !ok {
		return "", false
	}
	// As upstream: an object being deleted for longer than the leeway is
	// gone for the tokens bound to it.
	if del := m.GetDeletionTimestamp(); del != nil && del.Time.Before(time.Now().Add(-serviceaccount.Leeway)) {
		return "", false
	}
	return string(m.GetUID()), true
}

func (g uids) ServiceAccountUID(ns, name string) (string, bool) {
	return g.uid("serviceaccounts", ns, name)
}
func (g uids) PodUID(ns, name string) (string, bool)    { return g.uid("pods", ns, name) }
func (g uids) SecretUID(ns, name string) (string, bool) { return g.uid("secrets", ns, name) }
func (g uids) NodeUID(name string) (string, bool)       { return g.uid("nodes", "", name) }

// TokenSecret reads a legacy token's Secret from the cache, for the verifier.
func (g uids) TokenSecret(ns, name string) (serviceaccount.TokenSecret, bool) {
	sec, ok := GetObject(g.s, "v1", "secrets", ns, name).(*corev1.Secret)
	if !ok {
		return serviceaccount.TokenSecret{}, false
	}
	return serviceaccount.TokenSecret{
		UID: string(sec.UID), Token: sec.Data[corev1.ServiceAccountTokenKey],
		Labels: sec.Labels, Deleting: sec.DeletionTimestamp != nil,
	}, true
}

// serveTokenRequest answers serviceaccounts/token (kubectl create token): a
// token for the service account, for the audiences asked (the API's by
// default), bound to a pod, secret or node when asked, as upstream's.
func (s *Server) serveTokenRequest(w http.ResponseWriter, r *http.Request, req request) {
	if r.Method != http.MethodPost {
		writeError(w, methodNotSupported(r, req))
		return
	}
	if s.saTokens == nil {
		writeError(w, apierrors.NewServiceUnavailable("this server issues no service-account tokens"))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	tr := &authenticationv1.TokenRequest{}
	gvk := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	if _, err := decodeInto(body, mediaType(r), gvk, tr, validationIgnore); err != nil {
		writeError(w, err)
		return
	}
	if u, _ := UserFrom(r.Context()); nodeName(u) != "" {
		if err := s.nodeTokenRefusal(nodeName(u), req.namespace, req.name, tr.Spec.BoundObjectRef); err != nil {
			writeError(w, err)
			return
		}
	}
	saUID, ok := uids{s}.ServiceAccountUID(req.namespace, req.name)
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, req.name))
		return
	}
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = new(int64)
		*tr.Spec.ExpirationSeconds = defaultTokenSeconds
	}
	var errs field.ErrorList
	switch secs := *tr.Spec.ExpirationSeconds; {
	case secs < minTokenSeconds:
		errs = append(errs, field.Invalid(field.NewPath("spec", "expirationSeconds"), secs, "may not specify a duration less than 10 minutes"))
	case secs > maxTokenSeconds:
		errs = append(errs, field.TooLong(field.NewPath("spec", "expirationSeconds"), secs, maxTokenSeconds))
	}
	now := time.Now()
	claims := serviceaccount.Claims{
		Audiences: tr.Spec.Audiences, IssuedAt: now, NotBefore: now,
		Expiry:    now.Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second),
		Namespace: req.namespace, ServiceAccount: serviceaccount.Ref{Name: req.name, UID: saUID},
	}
	if len(claims.Audiences) == 0 {
		claims.Audiences = []string{s.saTokens.issuer.URL()}
		tr.Spec.Audiences = claims.Audiences
	}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		path := field.NewPath("spec", "boundObjectRef")
		var got string
		var found bool
		switch {
		case ref.APIVersion != "v1" && ref.APIVersion != "":
			errs = append(errs, field.NotSupported(path.Child("apiVersion"), ref.APIVersion, []string{"v1"}))
		case ref.Kind == "Pod":
			pod, ok := s.Get("v1", "pods", req.namespace, ref.Name).(*corev1.Pod)
			if found = ok; found {
				got = string(pod.UID)
				if sa := podServiceAccount(pod); sa != req.name {
					writeError(w, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with serviceaccount %q", req.name, sa)))
					return
				}
			}
			claims.Pod = &serviceaccount.Ref{Name: ref.Name, UID: got}
			// As upstream: a token bound to a scheduled pod names its
			// node too, when the node exists.
			if found && pod.Spec.NodeName != "" {
				if nodeUID, ok := (uids{s}).NodeUID(pod.Spec.NodeName); ok {
					claims.Node = &serviceaccount.Ref{Name: pod.Spec.NodeName, UID: nodeUID}
				}
			}
		case ref.Kind == "Secret":
			got, found = uids{s}.SecretUID(req.namespace, ref.Name)
			claims.Secret = &serviceaccount.Ref{Name: ref.Name, UID: got}
		case ref.Kind == "Node":
			got, found = uids{s}.NodeUID(ref.Name)
			claims.Node = &serviceaccount.Ref{Name: ref.Name, UID: got}
		default:
			errs = append(errs, field.NotSupported(path.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"}))
		}
		if len(errs) == 0 {
			gr := schema.GroupResource{Resource: map[string]string{"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[ref.Kind]}
			if !found {
				writeError(w, apierrors.NewNotFound(gr, ref.Name))
				return
			}
			if ref.UID != "" && string(ref.UID) != got {
				writeError(w, apierrors.NewConflict(gr, ref.Name, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID)))
				return
			}
			tr.Spec.BoundObjectRef.UID = types.UID(got)
		}
	}
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(gvk.GroupKind(), req.name, errs))
		return
	}
	token, err := s.saTokens.issuer.Issue(claims)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	tr.ObjectMeta = metav1.ObjectMeta{Name: req.name, Namespace: req.namespace, CreationTimestamp: metav1.NewTime(now)}
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(claims.Expiry)}
	tr.TypeMeta = metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
	writeObject(w, http.StatusCreated, tr)
}

// nodeRunsAs reports whether a pod bound to node runs as the service
// account: such a node may ask for its tokens (its pods' projected token
// volumes), as upstream's Node authorizer lets it.
func (s *Server) nodeRunsAs(node, namespace, name string) bool {
	return s.anyPodOnNode(node, namespace, func(pod *corev1.Pod) bool { return podServiceAccount(pod) == name })
}

func podServiceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default"
	}
	return pod.Spec.ServiceAccountName
}

// nodeTokenRefusal is NodeRestriction's check of a node's TokenRequest: a
// node may only get tokens bound to a pod that runs on it as that service
// account, never a free-standing one.
func (s *Server) nodeTokenRefusal(node, namespace, sa string, ref *authenticationv1.BoundObjectReference) error {
	forbid := func(msg string) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, sa, errors.New(msg))
	}
	if ref == nil || ref.Kind != "Pod" {
		return forbid(fmt.Sprintf("node %q requested token not bound to a pod", node))
	}
	if ref.UID == "" {
		return forbid(fmt.Sprintf("node %q requested token with empty ref.UID", node))
	}
	pod, ok := s.Get("v1", "pods", namespace, ref.Name).(*corev1.Pod)
	if !ok {
		return nil // the request answers NotFound
	}
	switch {
	case pod.UID != ref.UID:
		return forbid(fmt.Sprintf("node %q requested token with a pod with a different UID", node))
	case pod.Spec.NodeName != node:
		return forbid(fmt.Sprintf("node %q requested token bound to a pod scheduled on a different node", node))
	case podServiceAccount(pod) != sa:
		return forbid(fmt.Sprintf("node %q requested token bound to a pod that does not run as service account %q", node, sa))
	}
	return nil
}

// errNotAuthenticated is what a TokenReview of a token nobody knows says.
var errNotAuthenticated = errors.New("token not authenticated")

// Authenticate implements Authorizer: a static token (for the API
// audiences only) or a service-account token for audiences.
func (s *Server) Authenticate(token string, audiences []string) (User, []string, error) {
	if u, ok := s.cfg.Tokens[token]; ok && (len(audiences) == 0 || s.saTokens != nil && slices.Contains(audiences, s.saTokens.issuer.URL())) {
		var auds []string
		if len(audiences) > 0 {
			auds = []string{s.saTokens.issuer.URL()}
		}
		return User{Name: u.Name, Groups: withAuthenticated(u.Groups)}, auds, nil
	}
	if s.saTokens == nil {
		return User{}, nil, errNotAuthenticated
	}
	c, err := s.saTokens.verifier.VerifyAudiences(token, time.Now(), audiences)
	if err != nil {
		return User{}, nil, errNotAuthenticated
	}
	// The audiences asked that the token is for (all of them: the API's,
	// when none was asked), never one it is not for.
	auds := []string{s.saTokens.issuer.URL()}
	if len(audiences) > 0 {
		auds = nil
		for _, a := range audiences {
			if slices.Contains(c.Audiences, a) {
				auds = append(auds, a)
			}
		}
	}
	return saUser(c.User()), auds, nil
}

// saUser is the user a service account token authenticates as: the
// account's name and UID, its groups and system:authenticated, and what the
// token is bound to as extras.
func saUser(u serviceaccount.User) User {
	return User{Name: u.Name, UID: u.UID, Groups: withAuthenticated(u.Groups), Extra: u.Extra}
}
