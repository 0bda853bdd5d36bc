package serviceaccounttoken_test

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/serviceaccounttoken"
	"github.com/skiffhq/skiff/test/harness"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

// env is the controller running on a control plane of its own (without its
// control loops), signing with key.
type env struct {
	cs  kubernetes.Interface
	key *serviceaccount.Key

	mu     sync.Mutex
	writes map[string]int // "namespace/name" of a Secret → the controller's writes to it
}

func start(t *testing.T) *env {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	key, err := serviceaccount.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := serviceaccount.NewIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cs: c.Client, key: key, writes: map[string]int{}}
	rc := rest.CopyConfig(c.Config)
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			// .../namespaces/NS/secrets/NAME
			parts := strings.Split(r.URL.Path, "/")
			if n := len(parts); r.Method != http.MethodGet && n >= 4 && parts[n-2] == "secrets" && parts[n-4] == "namespaces" {
				e.mu.Lock()
				e.writes[parts[n-3]+"/"+parts[n-1]]++
				e.mu.Unlock()
			}
			return next.RoundTrip(r)
		})
	})
	own := kubernetes.NewForConfigOrDie(rc)
	factory := informers.NewSharedInformerFactory(own, 0)
	// One worker: Secrets are synced in the order they were created.
	controllertest.Run(t, factory, serviceaccounttoken.New(own, factory, serviceaccounttoken.Options{Issuer: issuer, CA: []byte(caPEM), Workers: 1}))
	return e
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (e *env) writesTo(ns, name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.writes[ns+"/"+name]
}

func (e *env) createAccount(t *testing.T, ns, name string, secrets ...string) *corev1.ServiceAccount {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, s := range secrets {
		sa.Secrets = append(sa.Secrets, corev1.ObjectReference{Name: s})
	}
	sa, err := e.cs.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// createToken makes a Secret of type kubernetes.io/service-account-token for
// account (and its UID when given), holding data.
func (e *env) createToken(t *testing.T, ns, name, account, uid string, data map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{corev1.ServiceAccountNameKey: account}},
		Type:       corev1.SecretTypeServiceAccountToken,
		StringData: data,
	}
	if uid != "" {
		s.Annotations[corev1.ServiceAccountUIDKey] = uid
	}
	s, err := e.cs.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// liveObjects answer a Verifier from the API server.
type liveObjects struct{ cs kubernetes.Interface }

func (l liveObjects) ServiceAccountUID(ns, name string) (string, bool) {
	sa, err := l.cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	return string(sa.UID), true
}
func (liveObjects) PodUID(string, string) (string, bool)    { return "", false }
func (liveObjects) SecretUID(string, string) (string, bool) { return "", false }
func (liveObjects) NodeUID(string) (string, bool)           { return "", false }

func (l liveObjects) TokenSecret(ns, name string) (serviceaccount.TokenSecret, bool) {
	s, err := l.cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return serviceaccount.TokenSecret{}, false
	}
	return serviceaccount.TokenSecret{UID: string(s.UID), Token: s.Data[corev1.ServiceAccountTokenKey], Labels: s.Labels, Deleting: s.DeletionTimestamp != nil}, true
}

// waitFilled waits for the Secret to hold a token, the CA and its namespace,
// and returns it.
func (e *env) waitFilled(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	var got *corev1.Secret
	controllertest.Eventually(t, "token, ca.crt and namespace in "+ns+"/"+name, func() (bool, string) {
		s, err := e.cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = s
		ok := len(s.Data["token"]) > 0 && string(s.Data["ca.crt"]) == caPEM && string(s.Data["namespace"]) == ns
		return ok, fmt.Sprintf("data keys %v, annotations %v", keys(s.Data), s.Annotations)
	})
	return got
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFillsTokenSecrets: a token Secret gets a legacy token that
// authenticates as its service account, the CA bundle and its namespace, and
// the account's UID; one holding a token already keeps it (a stale ca.crt is
// put right); other Secrets are not touched.
func TestFillsTokenSecrets(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	sa := e.createAccount(t, "default", "build-bot")
	own := e.createToken(t, "default", "own-token", "build-bot", "", map[string]string{"token": "my-token", "ca.crt": caPEM, "namespace": "default"})
	e.createToken(t, "default", "stale-ca", "build-bot", string(sa.UID), map[string]string{"token": "kept", "ca.crt": "an old CA"})
	opaque, err := e.cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "opaque", Annotations: map[string]string{corev1.ServiceAccountNameKey: "build-bot"}},
		StringData: map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.createToken(t, "default", "bot-token", "build-bot", "", nil)

	s := e.waitFilled(t, "default", "bot-token")
	if got := s.Annotations[corev1.ServiceAccountUIDKey]; got != string(sa.UID) {
		t.Errorf("service-account.uid annotation %q, want %q", got, sa.UID)
	}
	tok := string(s.Data["token"])
	v, err := serviceaccount.NewVerifier(serviceaccount.VerifierConfig{
		Keys: []crypto.PublicKey{e.key.Public()}, Getter: liveObjects{e.cs}, Secrets: liveObjects{e.cs},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok, time.Now())
	if err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	if u := c.User(); u.Name != "system:serviceaccount:default:build-bot" || u.UID != string(sa.UID) || !c.Legacy() || c.Secret.Name != "bot-token" {
		t.Errorf("the token is %+v for %+v", c, u)
	}

	s = e.waitFilled(t, "default", "stale-ca")
	if string(s.Data["token"]) != "kept" {
		t.Errorf("stale-ca's token replaced by %q", s.Data["token"])
	}
	if n := e.writesTo("default", "stale-ca"); n != 1 {
		t.Errorf("%d writes to stale-ca, want 1", n)
	}

	// own-token was synced before bot-token: it is as it was.
	got, err := e.cs.CoreV1().Secrets("default").Get(ctx, "own-token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != own.ResourceVersion || string(got.Data["token"]) != "my-token" || e.writesTo("default", "own-token") != 0 {
		t.Errorf("own-token written to (%d writes): data %q annotations %v", e.writesTo("default", "own-token"), got.Data, got.Annotations)
	}
	got, err = e.cs.CoreV1().Secrets("default").Get(ctx, "opaque", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != opaque.ResourceVersion || len(got.Data) != 1 || e.writesTo("default", "opaque") != 0 {
		t.Errorf("the Opaque Secret written to: data %q annotations %v", got.Data, got.Annotations)
	}

	// A token taken out of the Secret is replaced by a new one.
	s.Data["token"] = nil
	if _, err := e.cs.CoreV1().Secrets("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s = e.waitFilled(t, "default", "stale-ca")
	if _, err := v.Verify(string(s.Data["token"]), time.Now()); err != nil {
		t.Errorf("the new token in stale-ca does not verify: %v", err)
	}
}

// TestDeletesTokensOfGoneAccounts: a token Secret whose account does not
// exist, or exists with another UID, is deleted, and so are an account's
// tokens when it is deleted, or deleted and made again; a deleted token
// leaves its account's secrets list.
func TestDeletesTokensOfGoneAccounts(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	secrets := e.cs.CoreV1().Secrets("default")
	gone := func(name string) func() (bool, string) {
		return func() (bool, string) {
			s, err := secrets.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, ""
			}
			return false, fmt.Sprintf("%v: annotations %v", err, s.Annotations)
		}
	}

	e.createAccount(t, "default", "build-bot")
	e.createAccount(t, "default", "phoenix")
	e.createToken(t, "default", "orphan", "nobody", "", nil)
	e.createToken(t, "default", "wrong-uid", "build-bot", "not-its-uid", nil)
	e.createToken(t, "default", "bot-token", "build-bot", "", nil)
	e.createToken(t, "default", "phoenix-token", "phoenix", "", nil)
	controllertest.Eventually(t, "the token of an account that does not exist deleted", gone("orphan"))
	controllertest.Eventually(t, "the token for another UID deleted", gone("wrong-uid"))
	e.waitFilled(t, "default", "bot-token")
	e.waitFilled(t, "default", "phoenix-token")

	if err := e.cs.CoreV1().ServiceAccounts("default").Delete(ctx, "build-bot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the deleted account's token deleted", gone("bot-token"))

	if err := e.cs.CoreV1().ServiceAccounts("default").Delete(ctx, "phoenix", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.createAccount(t, "default", "phoenix")
	controllertest.Eventually(t, "the recreated account's old token deleted", gone("phoenix-token"))

	sa := e.createAccount(t, "default", "lister", "listed-token", "other")
	e.createToken(t, "default", "listed-token", "lister", "", nil)
	e.waitFilled(t, "default", "listed-token")
	if err := secrets.Delete(ctx, "listed-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "the deleted token out of its account's secrets", func() (bool, string) {
		got, err := e.cs.CoreV1().ServiceAccounts("default").Get(ctx, sa.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return fmt.Sprint(got.Secrets) == fmt.Sprint([]corev1.ObjectReference{{Name: "other"}}), fmt.Sprint(got.Secrets)
	})
}
