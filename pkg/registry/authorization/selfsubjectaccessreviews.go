package authorization

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(selfSubjectAccessReviews) }

func selfSubjectAccessReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("SelfSubjectAccessReview"), Name: "selfsubjectaccessreviews", Singular: "selfsubjectaccessreview",
		New: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateSelfSubjectAccessReview(obj.(*authorizationv1.SelfSubjectAccessReview))
		},
		Review: func(ctx context.Context, a apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			sar := obj.(*authorizationv1.SelfSubjectAccessReview)
			allowed, reason := a.Decide(ctx, accessOf(sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
			sar.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
			return sar, nil
		},
	}
}

// validateSelfSubjectAccessReview: a review asks about a resource or a path.
func validateSelfSubjectAccessReview(sar *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	spec := sar.Spec
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), spec.NonResourceAttributes, "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	return nil
}
