package agent

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tokenCache holds the service account tokens of one pod's projected
// volumes, by audience and lifetime, until four fifths of their lifetime
// has passed (upstream's kubelet renews them then).
type tokenCache map[string]cachedToken

type cachedToken struct {
	token     string
	renewAt   time.Time
	expiresAt time.Time
}

// tokenFiles asks the API server for a token bound to the pod (TokenRequest,
// serviceaccounts/token), or reuses one still fresh.
func (a *Agent) tokenFiles(ctx context.Context, refs *podRefs, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]volumeFile, error) {
	seconds := int64(3600)
	if src.ExpirationSeconds != nil {
		seconds = *src.ExpirationSeconds
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	key := fmt.Sprintf("%s/%s/%d", sa, src.Audience, seconds)
	now := timeNow()
	if t, ok := refs.tokens[key]; ok && now.Before(t.renewAt) {
		return []volumeFile{{path: src.Path, data: []byte(t.token)}}, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	resp, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		if t, ok := refs.tokens[key]; ok && now.Before(t.expiresAt) {
			// Not renewed yet; the one the pod has still works.
			return []volumeFile{{path: src.Path, data: []byte(t.token)}}, nil
		}
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return nil, configErrorf("service account token for %q: %v", sa, err)
		}
		return nil, err
	}
	issued, expires := now, resp.Status.ExpirationTimestamp.Time
	if refs.tokens != nil {
		refs.tokens[key] = cachedToken{token: resp.Status.Token, renewAt: issued.Add(expires.Sub(issued) * 4 / 5), expiresAt: expires}
	}
	return []volumeFile{{path: src.Path, data: []byte(resp.Status.Token)}}, nil
}
