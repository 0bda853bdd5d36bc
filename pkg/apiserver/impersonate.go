package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The impersonation headers (kubectl --as, --as-group, --as-uid).
const (
	impersonateUser        = "Impersonate-User"
	impersonateGroup       = "Impersonate-Group"
	impersonateUID         = "Impersonate-Uid"
	impersonateExtra       = "Impersonate-Extra-"
	serviceAccountPrefix   = "system:serviceaccount:"
	serviceAccountsGroup   = "system:serviceaccounts"
	authenticationGroupAPI = "authentication.k8s.io"
)

// impersonate returns who r acts as: u, or the user its impersonation
// headers name when u may impersonate that user, each group, the uid and
// each extra (the "impersonate" verb on users or serviceaccounts, groups,
// uids and userextras), as upstream's impersonation filter decides. The
// headers are removed, so nothing behind this acts on them again.
func (s *Server) impersonate(r *http.Request, u User) (User, error) {
	name := r.Header.Get(impersonateUser)
	groups := r.Header.Values(impersonateGroup)
	uid := r.Header.Get(impersonateUID)
	extras := map[string][]string{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, impersonateExtra) {
			// Keys are percent-encoded in header names (client-go's
			// escaping of "/" and the like), and case-insensitive.
			key := strings.ToLower(strings.TrimPrefix(k, impersonateExtra))
			if unescaped, err := url.PathUnescape(key); err == nil {
				key = unescaped
			}
			extras[key] = v
		}
	}
	defer func() {
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
	}()
	if name == "" {
		if len(groups) > 0 || uid != "" || len(extras) > 0 {
			return User{}, apierrors.NewBadRequest(fmt.Sprintf("requested impersonation of groups %q without impersonating a user", groups))
		}
		return u, nil
	}
	may := func(group, resource, subresource, namespace, name string) error {
		a := attributes{user: u, verb: "impersonate", resourceRequest: true, group: group, resource: resource,
			subresource: subresource, namespace: namespace, name: name}
		if ok, reason := s.decide(a); !ok {
			return forbidden(a, reason)
		}
		return nil
	}
	as := User{Name: name}
	if rest, ok := strings.CutPrefix(name, serviceAccountPrefix); ok {
		ns, sa, found := strings.Cut(rest, ":")
		if !found || ns == "" || sa == "" {
			return User{}, apierrors.NewBadRequest(fmt.Sprintf("%q is not a service account name", name))
		}
		if err := may("", "serviceaccounts", "", ns, sa); err != nil {
			return User{}, err
		}
		as.Groups = append(as.Groups, serviceAccountsGroup, serviceAccountsGroup+":"+ns)
	} else if err := may("", "users", "", "", name); err != nil {
		return User{}, err
	}
	for _, g := range groups {
		if err := may("", "groups", "", "", g); err != nil {
			return User{}, err
		}
		as.Groups = append(as.Groups, g)
	}
	if uid != "" {
		if err := may(authenticationGroupAPI, "uids", "", "", uid); err != nil {
			return User{}, err
		}
		as.UID = uid
	}
	for k, vs := range extras {
		for _, v := range vs {
			if err := may(authenticationGroupAPI, "userextras", k, "", v); err != nil {
				return User{}, err
			}
		}
		if as.Extra == nil {
			as.Extra = map[string][]string{}
		}
		as.Extra[k] = vs
	}
	implied := authenticatedGroup
	if name == anonymousUser {
		implied = unauthenticatedGroup
	}
	if !slices.Contains(as.Groups, implied) {
		as.Groups = append(as.Groups, implied)
	}
	return as, nil
}
