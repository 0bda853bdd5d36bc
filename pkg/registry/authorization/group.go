// Package authorization declares the kinds of the authorization.k8s.io API
// group: selfsubjectaccessreviews, the question "may I?" that kubectl auth
// can-i puts to the server, and selfsubjectrulesreviews, "what may I do?"
// (kubectl auth can-i --list), and subjectaccessreviews and
// localsubjectaccessreviews, the same question about another user.
//
// Its kinds are reviews, answered by the server's own authorizer and never
// stored. It must not serve HTTP or touch storage.
package authorization

import (
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = authorizationv1.SchemeGroupVersion
)

// Resources returns every kind of the authorization.k8s.io group, built for opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
