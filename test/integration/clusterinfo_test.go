package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestClusterInfo checks that `kubectl cluster-info` lists the control plane
// and the kube-system Services labelled kubernetes.io/cluster-service=true
// (the server's own kube-dns among them, by its kubernetes.io/name), with
// each kubectl.
func TestClusterInfo(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	notListed := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "not-listed"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	if _, err := c.Client.CoreV1().Services("kube-system").Create(ctx, notListed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			out := c.MustRun(t, k, "", "cluster-info")
			mustContain(t, "cluster-info", out, "Kubernetes control plane", "is running at", c.Config.Host)
			// kubectl colours the name and the address apart.
			if !regexp.MustCompile(`(?m)^\S*KubeDNS\S* is running at \S*` + regexp.QuoteMeta(c.Config.Host+"/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy")).MatchString(out) {
				t.Errorf("cluster-info does not list KubeDNS at its service proxy:\n%s", out)
			}
			if strings.Contains(out, "not-listed") {
				t.Errorf("cluster-info lists a Service without the cluster-service label:\n%s", out)
			}
		})
	}
}
