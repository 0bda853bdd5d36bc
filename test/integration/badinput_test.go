package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/test/harness"
)

// rawRequest sends one request with the admin credentials and decodes the Status.
func rawRequest(t *testing.T, c *harness.Cluster, method, path, contentType string, body []byte) (int, metav1.Status) {
	t.Helper()
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, c.Config.Host+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	_ = json.Unmarshal(data, &st)
	return resp.StatusCode, st
}

func podJSON(name string, extra string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"luksa/kubia"}]` + extra + `}}`)
}

// TestBadInputLosesNothing sends each kind of bad request and checks upstream's
// code, reason and message, then that nothing was stored or changed.
func TestBadInputLosesNothing(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	// Bound to a node that does not exist, so that no control loop writes it
	// (the scheduler would mark it Unschedulable while the test compares).
	keep, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "keep", Labels: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{NodeName: "nowhere", Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := append(podJSON("big", ""), bytes.Repeat([]byte(" "), 3*1024*1024)...)
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
		code                      int
		reason                    metav1.StatusReason
		message                   string
	}{
		{"malformed JSON", "POST", "/api/v1/namespaces/default/pods", "application/json", []byte(`{"apiVersion":"v1","kind":"Pod",`), 400, metav1.StatusReasonBadRequest, ""},
		{"malformed YAML", "POST", "/api/v1/namespaces/default/pods", "application/yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: [\n"), 400, metav1.StatusReasonBadRequest, ""},
		{"body over 3 MiB", "POST", "/api/v1/namespaces/default/pods", "application/json", big, 413, metav1.StatusReasonRequestEntityTooLarge, ""},
		{"unknown field, strict", "POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containerz":[],"containers":[{"name":"c","image":"i"}]}}`),
			400, metav1.StatusReasonBadRequest, `strict decoding error: unknown field "spec.containerz"`},
		{"duplicate field, strict", "POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","name":"y"},"spec":{"containers":[{"name":"c","image":"i"}]}}`),
			400, metav1.StatusReasonBadRequest, `duplicate field "metadata.name"`},
		{"name not DNS-1123", "POST", "/api/v1/namespaces/default/pods", "application/json", podJSON("Bad_Name", ""),
			422, metav1.StatusReasonInvalid, `metadata.name: Invalid value: "Bad_Name"`},
		{"missing namespace", "POST", "/api/v1/namespaces/nope/pods", "application/json", podJSON("x", ""),
			404, metav1.StatusReasonNotFound, `namespaces "nope" not found`},
		{"no containers", "POST", "/api/v1/namespaces/default/pods", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{}}`), 422, metav1.StatusReasonInvalid, "spec.containers: Required value"},
		{"selector does not match template", "POST", "/api/v1/namespaces/default/replicationcontrollers", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},"spec":{"selector":{"app":"a"},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`),
			422, metav1.StatusReasonInvalid, "`selector` does not match template `labels`"},
		{"immutable field", "PATCH", "/api/v1/namespaces/default/pods/keep", "application/merge-patch+json",
			[]byte(`{"spec":{"restartPolicy":"Never"}}`), 422, metav1.StatusReasonInvalid, "pod updates may not change fields"},
		{"stale resourceVersion", "PATCH", "/api/v1/namespaces/default/pods/keep", "application/merge-patch+json",
			[]byte(`{"metadata":{"resourceVersion":"1","labels":{"a":"c"}}}`), 409, metav1.StatusReasonConflict, "the object has been modified"},
		{"already exists", "POST", "/api/v1/namespaces/default/pods", "application/json", podJSON("keep", ""),
			409, metav1.StatusReasonAlreadyExists, `pods "keep" already exists`},
		{"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", nil, 404, metav1.StatusReasonNotFound, ""},
		{"bad label selector", "GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(", "", nil, 400, metav1.StatusReasonBadRequest, ""},
		{"unsupported field selector", "GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3Dx", "", nil, 400, metav1.StatusReasonBadRequest, "field label not supported: spec.foo"},
		{"unsupported patch type", "PATCH", "/api/v1/namespaces/default/pods/keep", "text/plain", []byte(`{}`), 415, metav1.StatusReasonUnsupportedMediaType, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, st := rawRequest(t, c, tc.method, tc.path, tc.ctype, tc.body)
			if code != tc.code || st.Code != int32(tc.code) || st.Reason != tc.reason || st.Kind != "Status" || st.APIVersion != "v1" {
				t.Fatalf("got HTTP %d %+v; want %d %s", code, st, tc.code, tc.reason)
			}
			if !strings.Contains(st.Message, tc.message) {
				t.Fatalf("message %q does not contain %q", st.Message, tc.message)
			}
		})
	}
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ResourceVersion != keep.ResourceVersion || list.Items[0].Labels["a"] != "b" {
		t.Fatalf("stored state changed: %+v", list.Items)
	}
	if _, err := c.Client.CoreV1().ReplicationControllers("default").Get(ctx, "rc", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("invalid rc was stored: %v", err)
	}

	// A terminating namespace refuses new content with 403.
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed", Finalizers: []string{"test/hold"}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	code, st := rawRequest(t, c, "POST", "/api/v1/namespaces/doomed/pods", "application/json", podJSON("x", ""))
	if code != 403 || st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, "because it is being terminated") {
		t.Fatalf("create in terminating namespace: %d %+v", code, st)
	}
	_, _ = c.Client.CoreV1().Namespaces().Patch(ctx, "doomed", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
}

// TestServiceTypeChange: changing a LoadBalancer Service to ClusterIP drops the
// fields only LoadBalancers carry, as upstream does, instead of refusing.
func TestServiceTypeChange(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	svcs := c.Client.CoreV1().Services("default")
	svc, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"a": "b"},
		Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].NodePort == 0 || svc.Spec.AllocateLoadBalancerNodePorts == nil {
		t.Fatalf("LoadBalancer not allocated: %+v", svc.Spec)
	}
	out, err := svcs.Patch(ctx, "lb", types.MergePatchType, []byte(`{"spec":{"type":"ClusterIP"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("LoadBalancer -> ClusterIP: %v", err)
	}
	if out.Spec.Ports[0].NodePort != 0 || out.Spec.AllocateLoadBalancerNodePorts != nil || out.Spec.ExternalTrafficPolicy != "" || out.Spec.ClusterIP != svc.Spec.ClusterIP {
		t.Fatalf("type-dependent fields kept: %+v", out.Spec)
	}
	if _, err := svcs.Patch(ctx, "lb", types.MergePatchType, []byte(`{"spec":{"type":"NodePort"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("ClusterIP -> NodePort: %v", err)
	}
}
