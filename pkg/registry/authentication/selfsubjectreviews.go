package authentication

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(selfSubjectReviews) }

// selfSubjectReviews answer with the user the server took the request to be
// from (after impersonation): `kubectl auth whoami`.
func selfSubjectReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("SelfSubjectReview"), Name: "selfsubjectreviews", Singular: "selfsubjectreview",
		New: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			r := obj.(*authenticationv1.SelfSubjectReview)
			m := r.ObjectMeta
			m.ManagedFields = nil
			if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m) {
				return field.ErrorList{field.Invalid(field.NewPath("metadata"), r.ObjectMeta, "must be empty")}
			}
			return nil
		},
		Review: func(ctx context.Context, _ apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			u, ok := apiserver.UserFrom(ctx)
			if !ok {
				return nil, apierrors.NewBadRequest("no user present on request")
			}
			r := obj.(*authenticationv1.SelfSubjectReview)
			r.Status.UserInfo = userInfo(u)
			return r, nil
		},
	}
}
