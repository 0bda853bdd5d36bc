package apiserver

import (
	"context"
	"net/http"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Authorizer answers whether the user a request comes from may do something:
// what access reviews ask of the server.
type Authorizer interface {
	Decide(ctx context.Context, a Access) (allowed bool, reason string)
	// DecideFor is Decide for another user (SubjectAccessReview).
	DecideFor(user string, groups []string, a Access) (allowed bool, reason string)
	// Authenticate is who a bearer token is, for the audiences asked (the
	// API's when none), and the audiences it is good for (TokenReview).
	Authenticate(token string, audiences []string) (u User, auds []string, err error)
	// Rules lists what the user may do in namespace, as far as the
	// authorizers can tell: incomplete when one of them cannot list its
	// rules (the Node authorizer), with the errors met on the way.
	Rules(ctx context.Context, namespace string) (rules []rbacv1.PolicyRule, incomplete bool, err error)
}

// Access is one thing a user may or may not do: a verb on a resource, or on a
// path when Resource is empty.
type Access struct {
	Verb                                          string
	Group, Resource, Subresource, Namespace, Name string
	Path                                          string
}

// Decide implements Authorizer with the server's own authorization.
func (s *Server) Decide(ctx context.Context, a Access) (bool, string) {
	u, _ := UserFrom(ctx)
	return s.decide(attributes{
		user: u, verb: a.Verb, resourceRequest: a.Resource != "",
		group: a.Group, resource: a.Resource, subresource: a.Subresource,
		namespace: a.Namespace, name: a.Name, path: a.Path, explain: true,
	})
}

// DecideFor implements Authorizer for the user a review names, with the
// groups it names (and no others, as upstream).
func (s *Server) DecideFor(user string, groups []string, a Access) (bool, string) {
	return s.decide(attributes{
		user: User{Name: user, Groups: groups}, verb: a.Verb, resourceRequest: a.Resource != "",
		group: a.Group, resource: a.Resource, subresource: a.Subresource,
		namespace: a.Namespace, name: a.Name, path: a.Path, explain: true,
	})
}

// Rules implements Authorizer: system:masters may do everything; a node's
// own rules come from the Node authorizer, which cannot list them; the rest
// is what RBAC grants.
func (s *Server) Rules(ctx context.Context, namespace string) ([]rbacv1.PolicyRule, bool, error) {
	u, _ := UserFrom(ctx)
	if slices.Contains(u.Groups, MastersGroup) || s.cfg.RBAC == nil && !isAnonymous(u) && nodeName(u) == "" {
		return []rbacv1.PolicyRule{
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
		}, false, nil
	}
	if s.cfg.RBAC == nil {
		return nil, true, nil
	}
	rules, err := s.cfg.RBAC.RulesFor(u.Name, u.Groups, namespace)
	return rules, nodeName(u) != "", err
}

// serveReview answers a create of a review kind with the review's answer;
// nothing is stored.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, req request) {
	if r.Method != http.MethodPost || req.name != "" || req.subresource != "" {
		writeError(w, methodNotSupported(r, req))
		return
	}
	fv, _, body, err := readWrite(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj := req.res.New()
	warnings, err := decodeInto(body, mediaType(r), req.res.GVK, obj, fv)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.res.Namespaced {
		acc, err := meta.Accessor(obj)
		if err != nil {
			writeError(w, err)
			return
		}
		switch {
		case acc.GetNamespace() == "":
			acc.SetNamespace(req.namespace)
		case acc.GetNamespace() != req.namespace:
			writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
			return
		}
	}
	if req.res.Validate != nil {
		if errs := req.res.Validate(obj); len(errs) > 0 {
			acc, _ := meta.Accessor(obj)
			writeError(w, apierrors.NewInvalid(req.res.GVK.GroupKind(), acc.GetName(), errs))
			return
		}
	}
	answer, err := req.res.Review(r.Context(), s, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	answer.GetObjectKind().SetGroupVersionKind(req.res.GVK)
	warn(w, warnings)
	writeObject(w, http.StatusCreated, answer)
}
