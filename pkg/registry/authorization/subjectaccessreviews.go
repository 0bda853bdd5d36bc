package authorization

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() {
	kinds.Add(subjectAccessReviews)
	kinds.Add(localSubjectAccessReviews)
}

// subjectAccessReviews answer "may this user do that?" for any user (what
// webhooks and aggregated API servers ask); creating one takes the right to.
func subjectAccessReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("SubjectAccessReview"), Name: "subjectaccessreviews", Singular: "subjectaccessreview",
		New: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			sar := obj.(*authorizationv1.SubjectAccessReview)
			errs := validateSubjectAccessReviewSpec(sar.Spec)
			m := sar.ObjectMeta
			m.ManagedFields = nil
			if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m) {
				errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, "must be empty"))
			}
			return errs
		},
		Review: func(_ context.Context, a apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			sar := obj.(*authorizationv1.SubjectAccessReview)
			sar.Status = review(a, sar.Spec)
			return sar, nil
		},
	}
}

// localSubjectAccessReviews are subject access reviews confined to one
// namespace, which a namespace's admin may create.
func localSubjectAccessReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("LocalSubjectAccessReview"), Name: "localsubjectaccessreviews", Singular: "localsubjectaccessreview",
		Namespaced: true,
		New:        func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			sar := obj.(*authorizationv1.LocalSubjectAccessReview)
			errs := validateSubjectAccessReviewSpec(sar.Spec)
			m := sar.ObjectMeta
			m.ManagedFields, m.Namespace = nil, ""
			if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m) {
				errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, "must be empty except for namespace"))
			}
			if ra := sar.Spec.ResourceAttributes; ra != nil && ra.Namespace != sar.Namespace {
				errs = append(errs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, "must match metadata.namespace"))
			}
			if sar.Spec.NonResourceAttributes != nil {
				errs = append(errs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), sar.Spec.NonResourceAttributes, "disallowed on this kind of request"))
			}
			return errs
		},
		Review: func(_ context.Context, a apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			sar := obj.(*authorizationv1.LocalSubjectAccessReview)
			sar.Status = review(a, sar.Spec)
			return sar, nil
		},
	}
}

func validateSubjectAccessReviewSpec(spec authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	var errs field.ErrorList
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		errs = append(errs, field.Invalid(field.NewPath("spec"), spec.NonResourceAttributes, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified"))
	}
	return errs
}

// review decides for the user and groups a review names.
func review(a apiserver.Authorizer, spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	allowed, reason := a.DecideFor(spec.User, spec.Groups, accessOf(spec.ResourceAttributes, spec.NonResourceAttributes))
	return authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
}

// accessOf is what a review asks about: a resource or a path.
func accessOf(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) apiserver.Access {
	if ra != nil {
		return apiserver.Access{Verb: ra.Verb, Group: ra.Group, Resource: ra.Resource, Subresource: ra.Subresource,
			Namespace: ra.Namespace, Name: ra.Name}
	}
	if nra != nil {
		return apiserver.Access{Verb: nra.Verb, Path: nra.Path}
	}
	panic(fmt.Sprintf("a validated review asks about something: %v %v", ra, nra))
}
