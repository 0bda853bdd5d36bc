package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestServiceAccountTokens: `kubectl create token` issues a bound token that
// authenticates as the service account, which RBAC then governs; a token that
// is tampered with, unsigned, for another audience, or whose service account
// or pod is gone is refused with 401.
func TestServiceAccountTokens(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := harness.BuiltinKubectl(t)
	c.MustRun(t, k, "", "create", "serviceaccount", "robot", "-n", "team")
	token := strings.TrimSpace(c.MustRun(t, k, "", "create", "token", "robot", "-n", "team"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("kubectl create token printed %q", token)
	}
	as := func(token string) kubernetes.Interface {
		cfg := rest.AnonymousClientConfig(c.Config)
		cfg.BearerToken = token
		return kubernetes.NewForConfigOrDie(cfg)
	}
	robot := as(token)
	review, err := robot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "system:serviceaccount:team:robot" ||
		strings.Join(u.Groups, " ") != "system:serviceaccounts system:serviceaccounts:team system:authenticated" {
		t.Errorf("whoami: %+v", u)
	}
	// As upstream: the account's UID, and the token's ID as an extra.
	robotSA, err := c.Client.CoreV1().ServiceAccounts("team").Get(ctx, "robot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.UID != string(robotSA.UID) || len(u.Extra["authentication.kubernetes.io/credential-id"]) != 1 ||
		!strings.HasPrefix(u.Extra["authentication.kubernetes.io/credential-id"][0], "JTI=") {
		t.Errorf("whoami's uid and extras: %+v", u)
	}
	_, err = robot.CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "system:serviceaccount:team:robot" cannot list resource "pods"`) {
		t.Errorf("before a binding: %v", err)
	}
	if _, err := c.Client.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "robot-views"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "robot", Namespace: "team"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err = robot.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Errorf("after a RoleBinding: %v", err)
	}
	// The issuer's discovery documents, for the service accounts.
	if raw, err := robot.Discovery().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx); err != nil ||
		!strings.Contains(string(raw), `"issuer":"https://kubernetes.default.svc.cluster.local"`) {
		t.Errorf("openid-configuration: %v %s", err, raw)
	}

	unauthorized := func(what, token string) {
		t.Helper()
		_, err := as(token).CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Errorf("%s: %v, want 401", what, err)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error holds the token", what)
		}
	}
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), "robot", "admin", 1)
	unauthorized("a tampered payload", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+parts[2])
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	unauthorized("alg none", none+"."+parts[1]+".")
	unauthorized("garbage", "not-a-token")
	other := strings.TrimSpace(c.MustRun(t, k, "", "create", "token", "robot", "-n", "team", "--audience", "vault"))
	unauthorized("another audience", other)

	// TokenReview: whose is this token, for which audiences.
	reviews := c.Client.AuthenticationV1().TokenReviews()
	for _, tc := range []struct {
		token, audience, user string
	}{
		{token, "", "system:serviceaccount:team:robot"},
		{other, "vault", "system:serviceaccount:team:robot"},
		{other, "", ""},
		{"not-a-token", "", ""},
		{other, "vault,elsewhere", "system:serviceaccount:team:robot"},
	} {
		tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tc.token}}
		if tc.audience != "" {
			tr.Spec.Audiences = strings.Split(tc.audience, ",")
		}
		got, err := reviews.Create(ctx, tr, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Authenticated != (tc.user != "") || got.Status.User.Username != tc.user || got.Spec.Token != "" {
			t.Errorf("TokenReview (audience %q, want %q): %+v, spec token echoed: %v", tc.audience, tc.user, got.Status, got.Spec.Token != "")
		}
		// Only the audiences asked that the token is for.
		if tc.audience == "vault,elsewhere" && strings.Join(got.Status.Audiences, ",") != "vault" {
			t.Errorf("TokenReview for audiences %s of a token for vault: audiences %q", tc.audience, got.Status.Audiences)
		}
	}

	// Bound to a pod: it names the pod and its node (as upstream's) and
	// stops working when the pod goes.
	if _, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Pods("team").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec:       corev1.PodSpec{NodeName: "n1", ServiceAccountName: "robot", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.Client.CoreV1().ServiceAccounts("team").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "app"}, ExpirationSeconds: ptr.To[int64](600),
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A token of another account cannot be bound to the pod.
	c.MustRun(t, k, "", "create", "serviceaccount", "other", "-n", "team")
	_, err = c.Client.CoreV1().ServiceAccounts("team").CreateToken(ctx, "other", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "app"},
	}}, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `cannot bind token for serviceaccount "other" to pod running with serviceaccount "robot"`) {
		t.Errorf("a token of another account bound to the pod: %v", err)
	}
	if left := time.Until(tr.Status.ExpirationTimestamp.Time); left < 9*time.Minute || left > 11*time.Minute {
		t.Errorf("a 600 s token expires in %v", left)
	}
	if _, err := as(tr.Status.Token).CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("a pod-bound token while the pod exists: %v", err)
	}
	bound, err := as(tr.Status.Token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x := bound.Status.UserInfo.Extra; strings.Join(x["authentication.kubernetes.io/pod-name"], ",") != "app" ||
		strings.Join(x["authentication.kubernetes.io/node-name"], ",") != "n1" || len(x["authentication.kubernetes.io/node-uid"]) != 1 {
		t.Errorf("a pod-bound token's extras: %v", x)
	}
	if err := c.Client.CoreV1().Pods("team").Delete(ctx, "app", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := c.Client.CoreV1().Pods("team").Get(ctx, "app", metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
	}
	unauthorized("a token bound to a deleted pod", tr.Status.Token)

	_, err = c.Client.CoreV1().ServiceAccounts("team").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](60)}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not specify a duration less than 10 minutes") {
		t.Errorf("a 60 s token: %v", err)
	}
	_, err = c.Client.CoreV1().ServiceAccounts("team").CreateToken(ctx, "ghost", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a token of a service account that does not exist: %v", err)
	}

	// The service account goes: its tokens stop working.
	if err := c.Client.CoreV1().ServiceAccounts("team").Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	unauthorized("a token of a deleted service account", token)
	// The keys are for service accounts (the default policy's
	// system:service-account-issuer-discovery), not for anonymous callers.
	anon := kubernetes.NewForConfigOrDie(rest.AnonymousClientConfig(c.Config))
	if _, err := anon.Discovery().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx); !apierrors.IsForbidden(err) {
		t.Errorf("anonymous jwks: %v", err)
	}
}

// TestNodeTokenRequests: a node gets tokens only bound to a pod bound to it
// that runs as that service account (NodeRestriction), never a free one.
func TestNodeTokenRequests(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, node, sa string }{{"here", "n1", "robot"}, {"there", "n2", "robot"}, {"other-sa", "n1", "default"}} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name},
			Spec:       corev1.PodSpec{NodeName: p.node, ServiceAccountName: p.sa, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", userKubeconfig(t, c, "system:node:n1", "system:nodes"))
	if err != nil {
		t.Fatal(err)
	}
	sas := kubernetes.NewForConfigOrDie(cfg).CoreV1().ServiceAccounts("default")
	// As a kubelet asks: bound to the pod by name and UID.
	bound := func(pod string) *authenticationv1.TokenRequest {
		tr := &authenticationv1.TokenRequest{}
		if name, uid, _ := strings.Cut(pod, "@"); name != "" {
			if uid == "" {
				p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				uid = string(p.UID)
			}
			if uid == "none" {
				uid = ""
			}
			tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: name, UID: types.UID(uid)}
		}
		return tr
	}
	if _, err := sas.CreateToken(ctx, "robot", bound("here"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a token bound to the node's own pod: %v", err)
	}
	for pod, want := range map[string]string{
		"":               `node "n1" requested token not bound to a pod`,
		"there":          `node "n1" requested token bound to a pod scheduled on a different node`,
		"other-sa":       `node "n1" requested token bound to a pod that does not run as service account "robot"`,
		"here@none":      `node "n1" requested token with empty ref.UID`,
		"here@not-yours": `node "n1" requested token with a pod with a different UID`,
	} {
		if _, err := sas.CreateToken(ctx, "robot", bound(pod), metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("bound to %q: %v, want %s", pod, err, want)
		}
	}
}

// TestLegacyTokenSecrets: a Secret of type kubernetes.io/service-account-token
// made with kubectl gets a token, the cluster's CA and the namespace from the
// tokens controller; the token authenticates as its service account (and
// labels its Secret last used) until the Secret is deleted, then gets 401.
func TestLegacyTokenSecrets(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	k := harness.BuiltinKubectl(t)
	c.MustRun(t, k, "", "create", "serviceaccount", "robot")
	c.MustRun(t, k, `
apiVersion: v1
kind: Secret
metadata:
  name: robot-token
  annotations: {kubernetes.io/service-account.name: robot}
type: kubernetes.io/service-account-token
`, "apply", "-f", "-")
	var secret *corev1.Secret
	eventually(t, "the token filled in", 10*time.Second, func() (bool, string) {
		var err error
		secret, err = c.Client.CoreV1().Secrets("default").Get(ctx, "robot-token", metav1.GetOptions{})
		return err == nil && len(secret.Data["token"]) > 0 && len(secret.Data["ca.crt"]) > 0, ""
	})
	if ns := string(secret.Data["namespace"]); ns != "default" {
		t.Errorf("namespace %q", ns)
	}
	sa, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "robot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if uid := secret.Annotations[corev1.ServiceAccountUIDKey]; uid != string(sa.UID) {
		t.Errorf("service-account.uid annotation %q, want %q", uid, sa.UID)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = string(secret.Data["token"])
	robot := kubernetes.NewForConfigOrDie(cfg)
	review, err := robot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "system:serviceaccount:default:robot" ||
		strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" {
		t.Errorf("the legacy token is %+v", u)
	}
	eventually(t, "the Secret labelled last used", 10*time.Second, func() (bool, string) {
		s, err := c.Client.CoreV1().Secrets("default").Get(ctx, "robot-token", metav1.GetOptions{})
		return err == nil && s.Labels["kubernetes.io/legacy-token-last-used"] == time.Now().UTC().Format(time.DateOnly), ""
	})
	c.MustRun(t, k, "", "delete", "secret", "robot-token")
	eventually(t, "the token refused once its Secret is gone", 10*time.Second, func() (bool, string) {
		_, err := robot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return apierrors.IsUnauthorized(err), ""
	})
}
