package authorization

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(selfSubjectRulesReviews) }

// selfSubjectRulesReviews answer "what may I do in this namespace?"
// (`kubectl auth can-i --list`): the rules the authorizers can list, split
// into resource and non-resource rules as upstream's review words them.
func selfSubjectRulesReviews(kind.Options) *apiserver.Resource {
	return &apiserver.Resource{
		GVK: v1.WithKind("SelfSubjectRulesReview"), Name: "selfsubjectrulesreviews", Singular: "selfsubjectrulesreview",
		New: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
		// Upstream validates nothing of it; a missing namespace is a bad
		// request when it is answered.
		Validate: func(runtime.Object) field.ErrorList { return nil },
		Review: func(ctx context.Context, a apiserver.Authorizer, obj runtime.Object) (runtime.Object, error) {
			review := obj.(*authorizationv1.SelfSubjectRulesReview)
			if review.Spec.Namespace == "" {
				return nil, apierrors.NewBadRequest("no namespace on request")
			}
			rules, incomplete, err := a.Rules(ctx, review.Spec.Namespace)
			status := authorizationv1.SubjectRulesReviewStatus{
				ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{},
				Incomplete: incomplete,
			}
			for _, r := range rules {
				if len(r.NonResourceURLs) > 0 {
					status.NonResourceRules = append(status.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
					continue
				}
				status.ResourceRules = append(status.ResourceRules, authorizationv1.ResourceRule{
					Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames,
				})
			}
			if err != nil {
				status.EvaluationError = err.Error()
			}
			review.Status = status
			return review, nil
		},
	}
}
