package core

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(serviceAccounts) }

func serviceAccounts(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ServiceAccount"), "serviceaccounts", "serviceaccount", true,
		func() runtime.Object { return &corev1.ServiceAccount{} }, func() runtime.Object { return &corev1.ServiceAccountList{} },
		printers.ServiceAccount())
	r.ShortNames = []string{"sa"}
	// kubectl create token: a TokenRequest answered with a bound token.
	r.Subresources = []apiserver.Subresource{{Name: "token", Kind: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"), Verbs: []string{"create"}}}
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateServiceAccount(obj.(*corev1.ServiceAccount))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateServiceAccountUpdate(obj.(*corev1.ServiceAccount), old.(*corev1.ServiceAccount))
	}
	return r
}
