package integration

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/dashboard"
	"github.com/skiffhq/skiff/test/harness"
)

const dashboardProxy = "/api/v1/namespaces/kube-system/services/https:kubernetes-dashboard:https/proxy"

// dashboardDo sends one request through the dashboard's service proxy with the
// cluster's admin credentials over HTTP/1.1, and returns the answer.
func dashboardDo(t *testing.T, cfg *rest.Config, method, path, body string, header http.Header) (int, string, http.Header) {
	t.Helper()
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tlsCfg},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequest(method, cfg.Host+dashboardProxy+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

// TestDashboard: the dashboard is listed by `kubectl cluster-info` as
// upstream's is, the URL it prints serves the pages, and the pages' API acts
// as the user who opened them: a bad edit gets the API's 422 and changes
// nothing, a scale goes through, a node (which may not use the service
// proxy) cannot open it.
func TestDashboard(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			out := c.MustRun(t, k, "", "cluster-info")
			// kubectl colours the name and the URL.
			mustContain(t, "cluster-info", out, "kubernetes-dashboard", "is running at", c.Config.Host+dashboardProxy)
			page := c.MustRun(t, k, "", "get", "--raw", dashboardProxy+"/")
			mustContain(t, "the dashboard's page", strings.ToLower(page), "<!doctype html>")
		})
	}

	code, _, h := dashboardDo(t, c.Config, "GET", "", "", nil)
	if code != http.StatusMovedPermanently || h.Get("Location") != "proxy/" {
		t.Errorf("the proxy root without its slash: %d to %q, want 301 to proxy/", code, h.Get("Location"))
	}
	api := http.Header{"X-Skiff-Dashboard": {"1"}}
	if code, body, _ := dashboardDo(t, c.Config, "GET", "/k8s/api/v1/namespaces", "", nil); code != http.StatusForbidden {
		t.Errorf("the pages' API without their header: %d %s, want 403", code, body)
	}
	if code, body, _ := dashboardDo(t, c.Config, "GET", "/whoami", "", api); code != http.StatusOK || !strings.Contains(body, `"name":"system:admin"`) {
		t.Errorf("whoami: %d %s, want system:admin", code, body)
	}

	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(int32(1)),
			Selector: map[string]string{"app": "kubia"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}}},
			},
		},
	}
	before, err := c.Client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcPath := "/k8s/api/v1/namespaces/default/replicationcontrollers/kubia"
	code, yml, h := dashboardDo(t, c.Config, "GET", rcPath, "", http.Header{"X-Skiff-Dashboard": {"1"}, "Accept": {"application/yaml"}})
	if code != http.StatusOK || h.Get("Content-Type") != "application/yaml" || !strings.Contains(yml, "\n  replicas: 1\n") {
		t.Fatalf("the RC as YAML: %d %s %q", code, h.Get("Content-Type"), yml)
	}
	bad := strings.Replace(yml, "\n  replicas: 1\n", "\n  replicas: -1\n", 1)
	code, body, _ := dashboardDo(t, c.Config, "PUT", rcPath, bad, http.Header{"X-Skiff-Dashboard": {"1"}, "Content-Type": {"application/yaml"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"spec.replicas"`) {
		t.Errorf("an edit to a negative replica count: %d %s, want 422 at spec.replicas", code, body)
	}
	after, err := c.Client.CoreV1().ReplicationControllers("default").Get(ctx, "kubia", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion || *after.Spec.Replicas != 1 {
		t.Errorf("the RC after a refused edit: %v, resourceVersion %s (was %s)", err, after.ResourceVersion, before.ResourceVersion)
	}
	code, body, _ = dashboardDo(t, c.Config, "PATCH", rcPath+"/scale", `{"spec":{"replicas":3}}`,
		http.Header{"X-Skiff-Dashboard": {"1"}, "Content-Type": {"application/merge-patch+json"}})
	if code != http.StatusOK {
		t.Fatalf("scale through the dashboard: %d %s", code, body)
	}
	if got, err := c.Client.CoreV1().ReplicationControllers("default").Get(ctx, "kubia", metav1.GetOptions{}); err != nil || *got.Spec.Replicas != 3 {
		t.Errorf("the RC after a scale to 3 through the dashboard: %v %v", err, got.Spec.Replicas)
	}

	node, err := kubernetes.NewForConfig(joinConfig(t, c, "node-1"))
	if err != nil {
		t.Fatal(err)
	}
	err = node.CoreV1().RESTClient().Get().AbsPath(dashboardProxy + "/").Do(ctx).Error()
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `cannot get resource "services/proxy"`) {
		t.Errorf("a node opening the dashboard: %v, want forbidden on services/proxy", err)
	}
}

// TestDashboardDisabled: --disable dashboard serves no dashboard, and removes
// the Service an earlier start with the dashboard made.
func TestDashboardDisabled(t *testing.T) {
	dir := t.TempDir()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Services("kube-system").Get(ctx, "kubernetes-dashboard", metav1.GetOptions{}); err != nil {
		t.Fatalf("the dashboard's Service with the dashboard on: %v", err)
	}
	c.Stop()
	c = harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir, Disable: []string{"dashboard"}})
	if _, err := c.Client.CoreV1().Services("kube-system").Get(ctx, "kubernetes-dashboard", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dashboard's Service after a start with --disable dashboard: %v, want NotFound", err)
	}
	k := harness.BuiltinKubectl(t)
	if out := c.MustRun(t, k, "", "cluster-info"); strings.Contains(out, "dashboard") {
		t.Errorf("cluster-info with the dashboard off:\n%s", out)
	}
	if code, body, _ := dashboardDo(t, c.Config, "GET", "/", "", nil); code != http.StatusNotFound {
		t.Errorf("the dashboard's URL with the dashboard off: %d %s, want 404", code, body)
	}
}

// TestSkiffDashboard: `skiff dashboard` serves the dashboard on this machine
// signed in with the kubeconfig's credentials, and forwards nothing else.
func TestSkiffDashboard(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- dashboard.ServeLocal(ctx, c.Config, "127.0.0.1", 0, func(u string) { urls <- u })
	}()
	var u string
	select {
	case u = <-urls:
	case err := <-done:
		t.Fatalf("skiff dashboard: %v", err)
	}
	get := func(url string, header http.Header) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if !strings.HasSuffix(u, dashboardProxy+"/") {
		t.Errorf("URL %s, want the dashboard's proxy path", u)
	}
	if code, body := get(u, nil); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "<!doctype html>") {
		t.Errorf("the page: %d %.80s", code, body)
	}
	if code, body := get(u+"whoami", http.Header{"X-Skiff-Dashboard": {"1"}}); code != http.StatusOK || !strings.Contains(body, "system:admin") {
		t.Errorf("whoami: %d %s, want the kubeconfig's user", code, body)
	}
	if code, _ := get(strings.TrimSuffix(u, dashboardProxy+"/")+"/api/v1/secrets", nil); code != http.StatusForbidden {
		t.Errorf("the API beside the dashboard through skiff dashboard: %d, want 403", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("skiff dashboard after its context ended: %v", err)
	}
}
