package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/test/harness"
)

// TestListParameters: the query of a list is parsed and checked as upstream's:
// what is not a revision, a limit or a match is refused with upstream's code
// and message, and a list at a revision is that revision's or none.
func TestListParameters(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true, WatchHistory: 50})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The state at first's revision: a holds v=1, b does not exist.
	at := first.ResourceVersion
	second := first.DeepCopy()
	second.Data["v"] = "2"
	if _, err := cms.Update(ctx, second, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := strconv.ParseInt(now.ResourceVersion, 10, 64)
	future := strconv.FormatInt(cur+1000, 10)

	const list = "/api/v1/namespaces/default/configmaps"
	for _, tc := range []struct {
		query   string
		code    int
		reason  metav1.StatusReason
		message string
	}{
		{"resourceVersion=abc", 400, metav1.StatusReasonBadRequest, `invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax`},
		{"resourceVersion=-1", 400, metav1.StatusReasonBadRequest, `invalid resource version: resourceVersion: Invalid value: "-1"`},
		{"resourceVersion=1&resourceVersionMatch=Bogus", 422, metav1.StatusReasonInvalid, `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""`},
		{"resourceVersionMatch=Exact", 422, metav1.StatusReasonInvalid, "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"},
		{"resourceVersion=0&resourceVersionMatch=Exact", 422, metav1.StatusReasonInvalid, `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`},
		{"limit=abc", 400, metav1.StatusReasonBadRequest, `strconv.ParseInt: parsing "abc": invalid syntax`},
		{"timeoutSeconds=x&watch=1", 400, metav1.StatusReasonBadRequest, `strconv.ParseInt: parsing "x": invalid syntax`},
		{"sendInitialEvents=true", 422, metav1.StatusReasonInvalid, "sendInitialEvents is forbidden for list"},
		{"continue=abc&resourceVersion=5", 400, metav1.StatusReasonBadRequest, "specifying resource version is not allowed when using continue"},
		{"resourceVersion=" + future + "&resourceVersionMatch=Exact", 504, metav1.StatusReasonTimeout, "Too large resource version: " + future},
		{"resourceVersion=" + future, 504, metav1.StatusReasonTimeout, "Too large resource version: " + future},
		{"watch=1&resourceVersion=abc", 422, metav1.StatusReasonInvalid, `configmaps "" is invalid: resourceVersion: Invalid value: "abc"`},
	} {
		code, st := rawRequest(t, c, "GET", list+"?"+tc.query, "", nil)
		if code != tc.code || st.Reason != tc.reason || !strings.Contains(st.Message, tc.message) {
			t.Errorf("LIST ?%s: HTTP %d %s %q; want %d %s saying %q", tc.query, code, st.Reason, st.Message, tc.code, tc.reason, tc.message)
		}
	}
	if st := st504(t, c, "/api/v1/namespaces/default/configmaps/a?resourceVersion="+future); st.Details == nil || st.Details.RetryAfterSeconds != 1 ||
		len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeResourceVersionTooLarge {
		t.Errorf("GET at a future revision: %+v, want 504 with a ResourceVersionTooLarge cause and Retry-After 1", st)
	}

	// limit=-1 is no limit, as upstream (its storage pages only for limit > 0).
	if l, err := cms.List(ctx, metav1.ListOptions{Limit: -1}); err != nil || len(l.Items) != len(now.Items) || l.Continue != "" {
		t.Errorf("limit=-1: %v, %d items (continue %q); want all %d", err, len(l.Items), l.Continue, len(now.Items))
	}
	// A snapshot: exactly the state at that revision.
	for _, opts := range []metav1.ListOptions{
		{ResourceVersion: at, ResourceVersionMatch: metav1.ResourceVersionMatchExact},
		{ResourceVersion: at, Limit: 100}, // the legacy form of the same
	} {
		old, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatalf("list %+v: %v", opts, err)
		}
		names := map[string]string{}
		for _, cm := range old.Items {
			names[cm.Name] = cm.Data["v"] + "@" + cm.ResourceVersion
		}
		if old.ResourceVersion != at || names["a"] != "1@"+at || names["b"] != "" {
			t.Errorf("list %+v: at %s %v; want the state at %s (a v=1, no b)", opts, old.ResourceVersion, names, at)
		}
	}
	// NotOlderThan an old revision is the latest state (the revision may have
	// moved on meanwhile: the loops' leader renews its Lease every 2 s).
	if l, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: at, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}); err != nil ||
		revOf(l.ResourceVersion) < revOf(now.ResourceVersion) || len(l.Items) != len(now.Items) {
		t.Errorf("NotOlderThan %s: %v at %s with %d items, want the latest (%s, %d items)", at, err, l.ResourceVersion, len(l.Items), now.ResourceVersion, len(now.Items))
	}
	// Paging is consistent: later pages are of the first page's revision.
	page, err := cms.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	next, err := cms.List(ctx, metav1.ListOptions{Limit: 10, Continue: page.Continue})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range next.Items {
		if cm.Name == "c" {
			t.Errorf("the second page holds %q, created after the first page", cm.Name)
		}
	}
	if next.ResourceVersion != page.ResourceVersion {
		t.Errorf("second page at %s, first at %s", next.ResourceVersion, page.ResourceVersion)
	}

	// History gone: 410, for a snapshot and for a continue token (whose Status
	// carries a token going on from the latest state).
	for i := 0; i < 60; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("filler-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: at, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) || !strings.Contains(err.Error(), "too old resource version: "+at) {
		t.Errorf("snapshot older than the history: %v, want 410 too old resource version", err)
	}
	_, err = cms.List(ctx, metav1.ListOptions{Limit: 10, Continue: page.Continue})
	var se *apierrors.StatusError
	if !apierrors.IsResourceExpired(err) || !strings.Contains(err.Error(), "The provided continue parameter is too old") {
		t.Errorf("continue older than the history: %v, want 410", err)
	} else if ok := errorsAs(err, &se); !ok || se.ErrStatus.ListMeta.Continue == "" {
		t.Errorf("the 410 for an old continue token carries no token to go on with: %+v", se)
	}
}

func errorsAs(err error, target **apierrors.StatusError) bool {
	se, ok := err.(*apierrors.StatusError)
	*target = se
	return ok
}

func st504(t *testing.T, c *harness.Cluster, path string) metav1.Status {
	t.Helper()
	code, st := rawRequest(t, c, "GET", path, "", nil)
	if code != http.StatusGatewayTimeout {
		t.Errorf("GET %s: HTTP %d %q, want 504", path, code, st.Message)
	}
	return st
}

// TestWatchParameterParsing: ?watch= is true for anything but absent, "0" or
// "false" in any case, as upstream's parameter codec reads booleans (the
// official Python client sends watch=True).
func TestWatchParameterParsing(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	for v, watch := range map[string]bool{"True": true, "true": true, "1": true, "yes": true, "": true, "false": false, "FALSE": false, "0": false} {
		resp, err := hc.Get(c.Config.Host + "/api/v1/namespaces?timeoutSeconds=1&watch=" + v)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(resp.Body).ReadBytes('\n')
		resp.Body.Close()
		var got struct {
			Type string `json:"type"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("watch=%q: %v in %q", v, err, line)
		}
		if watch && got.Type != "ADDED" || !watch && got.Kind != "NamespaceList" {
			t.Errorf("watch=%q: first line %q; want a watch: %v", v, line, watch)
		}
	}
}

// TestNotFoundPaths: a group, version, resource or subresource that is not
// served is upstream's generic 404, not a named object's.
func TestNotFoundPaths(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, path := range []string{
		"/apis/example.com/v1/widgets", "/apis/example.com/v1/namespaces/default/widgets/web", "/apis/example.com/v1", "/apis/nope",
		"/api/v2", "/api/v1/widgets", "/api/v1/namespaces/default/widgets", "/api/v1/namespaces/default/pods/x/nope",
		"/api/v1/pods/x", "/api/v1/namespaces/default/nodes", "/nope",
	} {
		code, st := rawRequest(t, c, "GET", path, "", nil)
		if code != 404 || st.Reason != metav1.StatusReasonNotFound || st.Message != "the server could not find the requested resource" {
			t.Errorf("GET %s: HTTP %d %s %q; want upstream's 404", path, code, st.Reason, st.Message)
		}
	}
	// A named object that does not exist is still named.
	if code, st := rawRequest(t, c, "GET", "/api/v1/namespaces/default/pods/x", "", nil); code != 404 || st.Message != `pods "x" not found` {
		t.Errorf("a missing pod: %d %q", code, st.Message)
	}
}

// TestUnconditionalUpdate: a PUT without metadata.resourceVersion updates
// whatever is stored, for the kinds upstream allows it (most); a Lease must
// name the revision it read.
func TestUnconditionalUpdate(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"v": "2"}}, metav1.UpdateOptions{})
	if err != nil || out.Data["v"] != "2" || out.ResourceVersion == "" {
		t.Fatalf("unconditional update of a ConfigMap: %v %+v", err, out)
	}
	pod, err := c.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{NodeName: "nowhere", Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.ResourceVersion = ""
	pod.Labels = map[string]string{"a": "b"}
	if out, err := c.Client.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil || out.Labels["a"] != "b" {
		t.Fatalf("unconditional update of a Pod: %v", err)
	}
	leases := c.Client.CoordinationV1().Leases("default")
	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.ResourceVersion = ""
	holder := "me"
	lease.Spec.HolderIdentity = &holder
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update` {
		t.Fatalf("unconditional update of a Lease: %v, want upstream's 422", err)
	}
	if got, _ := leases.Get(ctx, "l", metav1.GetOptions{}); got.Spec.HolderIdentity != nil {
		t.Fatalf("the refused update changed the Lease: %+v", got.Spec)
	}
}

// TestUnparsableContentType: a body whose Content-Type does not parse is a 415,
// not taken for JSON.
func TestUnparsableContentType(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	cm := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/v1/namespaces/default/configmaps"},
		{"PUT", "/api/v1/namespaces/default/configmaps/cm"},
		{"PATCH", "/api/v1/namespaces/default/configmaps/cm"},
	} {
		code, st := rawRequest(t, c, tc.method, tc.path, ";;;=", cm)
		if code != 415 || st.Reason != metav1.StatusReasonUnsupportedMediaType {
			t.Errorf("%s with Content-Type ;;;=: HTTP %d %+v, want 415", tc.method, code, st)
		}
	}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused body was stored: %v", err)
	}
}

// revOf reads a resourceVersion as the revision it is.
func revOf(rv string) int64 {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return n
}
