// Package authentication declares the kinds of the authentication.k8s.io API
// group: selfsubjectreviews, the question "who am I?" that kubectl auth
// whoami puts to the server, and tokenreviews, "whose is this token?".
//
// Its kinds are reviews, answered from the request's user and never stored.
// It must not serve HTTP or touch storage.
package authentication

import (
	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = authenticationv1.SchemeGroupVersion
)

// Resources returns every kind of the authentication.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }

// userInfo is how the review kinds show a user: name, UID, groups, extras.
func userInfo(u apiserver.User) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	for k, vs := range u.Extra {
		if info.Extra == nil {
			info.Extra = map[string]authenticationv1.ExtraValue{}
		}
		info.Extra[k] = vs
	}
	return info
}
