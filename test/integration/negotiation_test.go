package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestTableOfAccessReview is upstream's conformance test "should return a 406
// for a backend which does not implement metadata", and kubectl auth can-i,
// which asks the same backend.
func TestTableOfAccessReview(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	sar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}}}
	table := &metav1.Table{}
	err := c.Client.AuthorizationV1().RESTClient().Post().Resource("selfsubjectaccessreviews").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Body(sar).Do(context.Background()).Into(table)
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code != 406 {
		t.Fatalf("got %v, want a 406", err)
	}
	for _, k := range harness.Kubectls(t) {
		out, errOut, err := c.Run(k, "", "auth", "can-i", "create", "pods")
		if err != nil || strings.TrimSpace(out) != "yes" {
			t.Errorf("kubectl %s auth can-i create pods: %v %q %q", k.Version, err, out, errOut)
		}
	}
}
