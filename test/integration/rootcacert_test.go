package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/test/harness"
)

// TestEveryNamespacePublishesTheRootCA: the system namespaces hold
// kube-root-ca.crt as soon as the server is ready, a new namespace gets it
// within moments (upstream's e2e framework waits for it before every test),
// its ca.crt verifies the API server under kubernetes.default.svc, it comes
// back when deleted, and it does not hold up the namespace's deletion.
func TestEveryNamespacePublishesTheRootCA(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	ca, err := os.ReadFile(filepath.Join(c.DataDir, "server", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("kube-root-ca.crt in %s once the server is ready: %v", ns, err)
		}
		if cm.Data["ca.crt"] != string(ca) {
			t.Fatalf("kube-root-ca.crt in %s holds %q, not the cluster CA", ns, cm.Data["ca.crt"])
		}
	}

	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	c.MustRun(t, k, "", "create", "namespace", "team-a")
	var uid types.UID
	eventually(t, "kube-root-ca.crt in team-a", 10*time.Second, func() (bool, string) {
		cm, err := c.Client.CoreV1().ConfigMaps("team-a").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		uid = cm.UID
		return true, ""
	})
	if out := c.MustRun(t, k, "", "get", "configmaps", "-n", "team-a", "-o", "name"); out != "configmap/kube-root-ca.crt\n" {
		t.Errorf("kubectl get configmaps -n team-a printed %q", out)
	}
	got := c.MustRun(t, k, "", "get", "configmap", "kube-root-ca.crt", "-n", "team-a",
		"-o", `jsonpath={.metadata.annotations.kubernetes\.io/description}`)
	if want := "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."; got != want {
		t.Errorf("description %q", got)
	}
	pem := c.MustRun(t, k, "", "get", "configmap", "kube-root-ca.crt", "-n", "team-a", "-o", `jsonpath={.data.ca\.crt}`)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pem)) {
		t.Fatalf("ca.crt is not PEM: %q", pem)
	}
	u, _ := url.Parse(c.Server.URL)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: "kubernetes.default.svc", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("the API server is not verified by ca.crt as kubernetes.default.svc: %v", err)
	}
	conn.Close()

	c.MustRun(t, k, "", "delete", "configmap", "kube-root-ca.crt", "-n", "team-a")
	eventually(t, "kube-root-ca.crt recreated", 10*time.Second, func() (bool, string) {
		cm, err := c.Client.CoreV1().ConfigMaps("team-a").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cm.UID != uid && cm.Data["ca.crt"] == string(ca), string(cm.UID)
	})

	c.MustRun(t, k, "", "delete", "namespace", "team-a", "--wait=false")
	eventually(t, "namespace team-a deleted", time.Minute, func() (bool, string) {
		ns, err := c.Client.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("%v %+v", err, ns.Status)
	})
}
