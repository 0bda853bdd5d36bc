package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/skiffhq/skiff/test/harness"
)

// do sends one request with client and decodes the Status it answers.
func do(t *testing.T, client *http.Client, method, url string, header http.Header) (int, metav1.Status, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
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
	var st metav1.Status
	_ = json.Unmarshal(data, &st)
	if st.Kind != "Status" {
		st.Message = string(data)
	}
	return resp.StatusCode, st, resp.Header
}

// TestNodeCannotStreamPods: a node's credentials neither run commands in,
// attach to, tunnel into, proxy to nor read the logs of any pod, its own
// included: upstream's nodes hold no verb on these subresources. An upgrade
// (SPDY or WebSocket) is authorized as a create whatever its method, so a GET
// that upgrades is no way around it. The same holds for the Service and Node
// proxies.
func TestNodeCannotStreamPods(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	for _, p := range []struct{ name, node string }{{"victim", "node-2"}, {"mine", "node-1"}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name}, Spec: corev1.PodSpec{NodeName: p.node,
			Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}}}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := joinConfig(t, c, "node-1")
	// HTTP/1.1: upgrades do not exist in HTTP/2.
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	spdy := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v4.channel.k8s.io"}}
	ws := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}}
	upgrades := map[string]http.Header{"plain": nil, "SPDY": spdy, "WebSocket": ws}
	for _, pod := range []string{"victim", "mine"} {
		for _, tc := range []struct{ path, resource, plainGet string }{
			{"exec?command=id&stdout=true", "pods/exec", "create"},
			{"attach?stdout=true", "pods/attach", "create"},
			{"portforward?ports=8080", "pods/portforward", "create"},
			{"log", "pods/log", "get"},
			{"proxy/", "pods/proxy", "get"},
		} {
			for _, method := range []string{"GET", "POST"} {
				for kind, h := range upgrades {
					want := tc.plainGet
					if method == "POST" || h != nil {
						want = "create"
					}
					url := fmt.Sprintf("%s/api/v1/namespaces/default/pods/%s/%s", cfg.Host, pod, tc.path)
					code, st, _ := do(t, client, method, url, h)
					msg := fmt.Sprintf(`User "system:node:node-1" cannot %s resource %q in API group "" in the namespace "default"`, want, tc.resource)
					if code != http.StatusForbidden || st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, msg) {
						t.Errorf("%s %s (%s) on %s: HTTP %d %q; want 403 saying %q", method, tc.resource, kind, pod, code, st.Message, msg)
					}
				}
			}
		}
	}
	for _, path := range []string{"/api/v1/namespaces/default/services/web/proxy/", "/api/v1/nodes/node-2/proxy/", "/api/v1/nodes/node-1/proxy/"} {
		code, st, _ := do(t, client, "GET", cfg.Host+path, ws)
		if code != http.StatusForbidden || !strings.Contains(st.Message, `cannot create resource`) {
			t.Errorf("GET %s with an upgrade: HTTP %d %q; want 403", path, code, st.Message)
		}
	}

	// What the attack in the issue ran: client-go's SPDY executor, with GET.
	u, err := url.Parse(cfg.Host + "/api/v1/namespaces/default/pods/victim/exec?command=id&stdout=true&container=c")
	if err != nil {
		t.Fatal(err)
	}
	exec, err := remotecommand.NewSPDYExecutor(cfg, "GET", u)
	if err != nil {
		t.Fatal(err)
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("exec over SPDY with GET as node-1: %v, want forbidden", err)
	}

	// A node reads and writes the pods bound to it and nothing else of theirs.
	if _, err := kubernetesFor(t, cfg).CoreV1().Pods("default").Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("node-1 reading its own pod: %v", err)
	}
	_, err = kubernetesFor(t, cfg).CoreV1().Pods("default").Get(ctx, "victim", metav1.GetOptions{})
	wantForbidden(t, "node-1 reading node-2's pod", err, "no relationship found")
}

func kubernetesFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestNodeRestrictsItsLabelsAndTaints: a node may not give itself the labels
// that steer workloads (node-restriction.kubernetes.io/*, node-role and any
// other kubernetes.io label but the kubelet's own), nor drop or change the
// taints an administrator set, as upstream's NodeRestriction refuses; the Node
// is left as it was.
func TestNodeRestrictsItsLabelsAndTaints(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	n1 := joinAs(t, c, "node-1")
	nodes := n1.CoreV1().Nodes()
	_, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1",
		Labels: map[string]string{"node-restriction.kubernetes.io/pci": "true"}}}, metav1.CreateOptions{})
	wantForbidden(t, "registering with a node-restriction label", err, `node "node-1" is not allowed to set the following labels: node-restriction.kubernetes.io/pci`)
	if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1",
		Labels: map[string]string{corev1.LabelHostname: "node-1", "node.kubernetes.io/exclude-from-external-load-balancers": "true", "team": "a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("registering with the kubelet's labels: %v", err)
	}
	taint := `{"spec":{"taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"}]}}`
	if _, err := c.Client.CoreV1().Nodes().Patch(ctx, "node-1", types.MergePatchType, []byte(taint), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := c.Client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, patch, msg string }{
		{"a node-restriction label", `{"metadata":{"labels":{"node-restriction.kubernetes.io/pci":"true"}}}`, "is not allowed to modify labels: node-restriction.kubernetes.io/pci"},
		{"a node-role label", `{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}`, "is not allowed to modify labels: node-role.kubernetes.io/control-plane"},
		{"a kubernetes.io label", `{"metadata":{"labels":{"kubernetes.io/role":"master"}}}`, "is not allowed to modify labels: kubernetes.io/role"},
		{"its taints", `{"spec":{"taints":null}}`, `node "node-1" is not allowed to modify taints`},
		{"its owners", `{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Namespace","name":"default","uid":"1"}]}}`, `node "node-1" is not allowed to modify ownerReferences`},
	} {
		_, err := nodes.Patch(ctx, "node-1", types.MergePatchType, []byte(tc.patch), metav1.PatchOptions{})
		wantForbidden(t, "node-1 setting "+tc.what, err, tc.msg)
	}
	_, err = nodes.Patch(ctx, "node-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"node-restriction.kubernetes.io/pci":"true"}}}`), metav1.PatchOptions{}, "status")
	wantForbidden(t, "node-1 setting a node-restriction label through status", err, "node-restriction.kubernetes.io/pci")
	if _, err := nodes.Patch(ctx, "node-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"b","topology.kubernetes.io/zone":"z1"}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("node-1 setting its own labels: %v", err)
	}
	after, _ := c.Client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if len(after.Spec.Taints) != 1 || after.Labels["node-restriction.kubernetes.io/pci"] != "" || len(after.OwnerReferences) != 0 || after.Generation != before.Generation {
		t.Errorf("refused writes changed the Node: %+v %+v", after.Labels, after.Spec.Taints)
	}
}

// TestAnonymous: a request without credentials may check health and read the
// version, as a load balancer does, and is refused everything else with
// upstream's 403 (the image registry asks for credentials with its 401
// challenge). A credential that does not check out is a 401 everywhere.
func TestAnonymous(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.Config.CAFile)
	if err != nil {
		ca = c.Config.CAData
	}
	pool.AppendCertsFromPEM(ca)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, path := range []string{"/healthz", "/livez", "/readyz", "/version", "/healthz?verbose"} {
		code, st, _ := do(t, anon, "GET", c.Config.Host+path, nil)
		if code != http.StatusOK {
			t.Errorf("anonymous GET %s: HTTP %d %q, want 200", path, code, st.Message)
		}
	}
	for _, tc := range []struct{ method, path, msg string }{
		{"GET", "/", `User "system:anonymous" cannot get path "/"`},
		{"GET", "/api", `User "system:anonymous" cannot get path "/api"`},
		{"GET", "/apis/coordination.k8s.io/v1", `User "system:anonymous" cannot get path "/apis/coordination.k8s.io/v1"`},
		{"GET", "/openapi/v2", `User "system:anonymous" cannot get path "/openapi/v2"`},
		{"GET", "/livez/ping", `User "system:anonymous" cannot get path "/livez/ping"`},
		{"POST", "/healthz", `User "system:anonymous" cannot post path "/healthz"`},
		{"GET", "/api/v1/pods", `pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope`},
		{"GET", "/api/v1/namespaces/default/secrets/x", `secrets "x" is forbidden: User "system:anonymous" cannot get resource "secrets" in API group "" in the namespace "default"`},
		{"GET", "/apis/apps/v1/deployments", `User "system:anonymous" cannot list resource "deployments" in API group "apps"`},
		{"GET", "/debug/pprof/", `User "system:anonymous" cannot get path "/debug/pprof/"`},
	} {
		code, st, _ := do(t, anon, tc.method, c.Config.Host+tc.path, nil)
		if code != http.StatusForbidden || st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, tc.msg) {
			t.Errorf("anonymous %s %s: HTTP %d %q; want 403 saying %q", tc.method, tc.path, code, st.Message, tc.msg)
		}
	}
	code, _, h := do(t, anon, "GET", c.Config.Host+"/v2/", nil)
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous GET /v2/: HTTP %d, challenge %q; want 401 with a challenge", code, h.Get("WWW-Authenticate"))
	}
	for _, path := range []string{"/healthz", "/api/v1/pods"} {
		code, st, _ := do(t, anon, "GET", c.Config.Host+path, http.Header{"Authorization": {"Bearer not-a-token"}})
		if code != http.StatusUnauthorized || st.Reason != metav1.StatusReasonUnauthorized {
			t.Errorf("GET %s with a wrong token: HTTP %d %+v, want 401", path, code, st)
		}
	}
}

// copyBomb is issue 14's patch: a 1000-byte annotation map, then copies that
// each put the whole map into itself, doubling it (22 copies: ~40 GiB).
func copyBomb(copies int) []byte {
	var b strings.Builder
	b.WriteString(`[{"op":"add","path":"/metadata/annotations","value":{"a":"` + strings.Repeat("x", 1000) + `"}}`)
	for i := range copies {
		fmt.Fprintf(&b, `,{"op":"copy","from":"/metadata/annotations","path":"/metadata/annotations/b%d"}`, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// TestPatchBombs: patches that amplify are refused with upstream's status and
// leave the object as it was: a node's 2.5 KB JSON patch of doubling copies
// to its own Lease, and a YAML body whose aliases repeat a long string.
func TestPatchBombs(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	n1 := joinAs(t, c, "node-1")
	leases := n1.CoordinationV1().Leases("kube-node-lease")
	holder := "node-1"
	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = leases.Patch(ctx, "node-1", types.JSONPatchType, copyBomb(22), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) || time.Since(start) > 5*time.Second {
		t.Errorf("the copy bomb: %v after %v; want 422 at once", err, time.Since(start))
	}
	got, err := leases.Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != lease.ResourceVersion {
		t.Errorf("the refused patch changed the Lease: %v %+v", err, got.ObjectMeta)
	}

	// A YAML create whose aliases repeat 100 KB a thousand times (100 MB).
	yaml := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a " + strings.Repeat("x", 100_000) + "\n"
	for i := range 1000 {
		yaml += fmt.Sprintf("  k%d: *a\n", i)
	}
	code, st := rawRequest(t, c, "POST", "/api/v1/namespaces/default/configmaps", "application/yaml", []byte(yaml))
	if code != 413 || st.Reason != metav1.StatusReasonRequestEntityTooLarge {
		t.Errorf("the YAML alias bomb: HTTP %d %+v; want 413", code, st)
	}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "bomb", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused YAML was stored: %v", err)
	}
}

// TestAmplifyingRequests: inputs that would make a small request cost much
// more are bounded: selectors with very many requirements (each matched
// against every object), bodies of very many empty objects (each a struct
// when decoded), and the warnings a body full of unknown fields raises
// (upstream's 4 KiB of Warning headers).
func TestAmplifyingRequests(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	selector := func(n int, format string) string {
		var reqs []string
		for i := range n {
			reqs = append(reqs, fmt.Sprintf(format, i))
		}
		return url.QueryEscape(strings.Join(reqs, ","))
	}
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"labelSelector=" + selector(100, "l%d=v"), 200},
		{"labelSelector=" + selector(101, "l%d=v"), 400},
		{"fieldSelector=" + selector(100, "metadata.name!=n%d"), 200},
		{"fieldSelector=" + selector(101, "metadata.name!=n%d"), 400},
	} {
		code, st := rawRequest(t, c, "GET", "/api/v1/namespaces/default/pods?"+tc.query, "", nil)
		if code != tc.code {
			t.Errorf("LIST with %.40s...: HTTP %d %q, want %d", tc.query, code, st.Message, tc.code)
		}
	}

	empties := strings.Repeat("{},", 150_000)
	body := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wide"},"spec":{"containers":[` + empties + `{"name":"c","image":"i"}]}}`)
	code, st := rawRequest(t, c, "POST", "/api/v1/namespaces/default/pods", "application/json", body)
	if code != 413 || !strings.Contains(st.Message, "more than 100000 objects and arrays") {
		t.Errorf("a pod of 150,000 empty containers: HTTP %d %q, want 413", code, st.Message)
	}

	var fields []string
	for i := range 3000 {
		fields = append(fields, fmt.Sprintf(`"unknown%d":1`, i))
	}
	cm := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"noisy"},` + strings.Join(fields, ",") + `}`)
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", c.Config.Host+"/api/v1/namespaces/default/configmaps?fieldValidation=Warn", strings.NewReader(string(cm)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runes := 0
	for _, h := range resp.Header.Values("Warning") {
		runes += len([]rune(h))
	}
	if resp.StatusCode != 201 || len(resp.Header.Values("Warning")) == 0 || runes > 4096+2*256 {
		t.Errorf("3000 unknown fields: HTTP %d, %d warnings of %d runes in all; want 201 with at most ~4 KiB of warnings",
			resp.StatusCode, len(resp.Header.Values("Warning")), runes)
	}
}
