package authentication

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(tokenReviews) }

// tokenReviews answer "who is this token?" for the audiences asked (what
// webhooks and aggregated API servers ask, with system:auth-delegator):
// the user, or authenticated false with upstream's error.
func tokenReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("TokenReview"), Name: "tokenreviews", Singular: "tokenreview",
		New: func() runtime.Object { return &authenticationv1.TokenReview{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			if obj.(*authenticationv1.TokenReview).Spec.Token == "" {
				return field.ErrorList{field.Required(field.NewPath("spec", "token"), "")}
			}
			return nil
		},
		Review: func(_ context.Context, a apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			r := obj.(*authenticationv1.TokenReview)
			u, auds, err := a.Authenticate(r.Spec.Token, r.Spec.Audiences)
			r.Spec.Token = "" // never echoed
			if err != nil {
				r.Status = authenticationv1.TokenReviewStatus{Error: err.Error()}
				return r, nil
			}
			r.Status = authenticationv1.TokenReviewStatus{
				Authenticated: true, Audiences: auds,
				User: userInfo(u),
			}
			return r, nil
		},
	}
}
