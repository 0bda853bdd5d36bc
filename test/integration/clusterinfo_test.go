package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestClusterInfo checks that `kubectl cluster-info` lists the control plane
// and the kube-system Services labelled kubernetes.io/cluster-service=true,
// with each kubectl.
func TestClusterInfo(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	for _, s := range []*corev1.Service{{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Labels: map[string]string{"kubernetes.io/cluster-service": "true"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "not-listed"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}} {
		if _, err := c.Client.CoreV1().Services("kube-system").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			out := c.MustRun(t, k, "", "cluster-info")
			mustContain(t, "cluster-info", out, "Kubernetes control plane", "is running at", c.Config.Host,
				"kube-dns", c.Config.Host+"/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy")
			if strings.Contains(out, "not-listed") {
				t.Errorf("cluster-info lists a Service without the cluster-service label:\n%s", out)
			}
		})
	}
}
