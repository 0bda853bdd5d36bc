package integration

import (
	"context"
	"encoding/json"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// testIngress is the Ingress of upstream's conformance test: a default
// backend and one rule with an ImplementationSpecific path.
func testIngress(host string, labels map[string]string) *networkingv1.Ingress {
	backend := func(name string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 8080}}}
	}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-example-ing", Labels: labels},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: ptr.To(backend("default-backend")),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypeImplementationSpecific), Backend: backend("test-backend")}},
			}}}},
		},
	}
}

// TestNetworkingAPI runs the kinds of networking.k8s.io/v1 that take any
// name through create, get, update, update status, each patch type, list,
// watch and deletecollection.
func TestNetworkingAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	gvr := networkingv1.SchemeGroupVersion.WithResource
	label := hasLabel("updated", "true")
	lbIP := func(u *unstructured.Unstructured) bool {
		return fieldJSON(u, "status", "loadBalancer", "ingress") == `[{"ip":"169.1.1.1"}]`
	}
	ready := func(u *unstructured.Unstructured) bool {
		return strings.Contains(fieldJSON(u, "status", "conditions"), `"type":"Ready"`)
	}
	const condition = `{"type":"Ready","status":"True","lastTransitionTime":"2025-03-14T12:00:00Z","reason":"Ready","message":"ready"}`
	for _, tc := range []lifecycle{
		{gvr: gvr("ingresses"), namespaced: true, initial: testIngress("foo.bar.com", nil),
			updateStatus: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedSlice(u.Object, []interface{}{map[string]interface{}{"ip": "169.1.1.1"}}, "status", "loadBalancer", "ingress")
			},
			patchStatus: map[types.PatchType]string{
				types.MergePatchType: `{"status":{"loadBalancer":{"ingress":[{"ip":"169.1.1.1"}]}}}`,
				types.JSONPatchType:  `[{"op":"add","path":"/status/loadBalancer/ingress","value":[{"ip":"169.1.1.1"}]}]`},
			checkStatus: lbIP},
		{gvr: gvr("ingressclasses"), initial: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}},
		{gvr: gvr("networkpolicies"), namespaced: true, initial: &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}},
		{gvr: gvr("servicecidrs"), initial: &networkingv1.ServiceCIDR{Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"203.0.113.0/24"}}},
			updateStatus: func(u *unstructured.Unstructured) {
				var cond map[string]interface{}
				_ = json.Unmarshal([]byte(condition), &cond)
				_ = unstructured.SetNestedSlice(u.Object, []interface{}{cond}, "status", "conditions")
			},
			patchStatus: map[types.PatchType]string{
				types.MergePatchType: `{"status":{"conditions":[` + condition + `]}}`,
				types.JSONPatchType:  `[{"op":"add","path":"/status/conditions","value":[` + condition + `]}]`},
			checkStatus: ready},
	} {
		tc.updateSpec, tc.patchSpec, tc.check = setLabel("updated", "true"), labelPatches("updated", "true"), label
		t.Run(tc.gvr.Resource, func(t *testing.T) { tc.run(t, c) })
	}
}

// TestIngressConformance makes the calls of upstream's conformance test
// "should support creating Ingress API operations", with its checks.
func TestIngressConformance(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	ns := createNamespace(t, c, "ingress-e2e")
	expectNetworkingDiscovery(t, c, "ingresses")

	labels := map[string]string{"special-label": ns}
	selector := metav1.ListOptions{LabelSelector: "special-label=" + ns}
	ings := c.Client.NetworkingV1().Ingresses(ns)
	var created *networkingv1.Ingress
	for _, host := range []string{"host1.bar.com", "host2.bar.com", "host3.bar.com"} {
		ing, err := ings.Create(ctx, testIngress(host, labels), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created = ing
	}
	got, err := ings.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.ResourceVersion == "" || got.Generation != 1 {
		t.Fatalf("get: %+v, %v", got, err)
	}
	list, err := ings.List(ctx, selector)
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list: %d items, %v; want 3", len(list.Items), err)
	}
	w, err := ings.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: selector.LabelSelector})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	all, err := c.Client.NetworkingV1().Ingresses("").List(ctx, selector)
	if err != nil || len(all.Items) != 3 {
		t.Fatalf("cluster-wide list: %v, %v", all, err)
	}
	allWatch, err := c.Client.NetworkingV1().Ingresses("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: selector.LabelSelector})
	if err != nil {
		t.Fatal(err)
	}
	allWatch.Stop()

	patched, err := ings.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || !revisionAfter(patched.ResourceVersion, created.ResourceVersion) {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	patched.Annotations["updated"] = "true"
	updated, err := ings.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil || updated.Annotations["updated"] != "true" || updated.Generation != 1 {
		t.Fatalf("update: %+v, %v; want the annotation, generation still 1", updated, err)
	}
	for seen := false; !seen; {
		select {
		case ev := <-w.ResultChan():
			ing, ok := ev.Object.(*networkingv1.Ingress)
			if ev.Type != watch.Modified || !ok {
				t.Fatalf("watch event %s %T, want MODIFIED Ingress", ev.Type, ev.Object)
			}
			seen = ing.Annotations["patched"] == "true"
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event for the patch")
		}
	}

	lb := networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.1"}}}
	lbJSON, _ := json.Marshal(lb)
	st, err := ings.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"loadBalancer":`+string(lbJSON)+`}}`), metav1.PatchOptions{}, "status")
	if err != nil || !reflect.DeepEqual(st.Status.LoadBalancer, lb) || st.Annotations["patchedstatus"] != "true" {
		t.Fatalf("status patch: %+v, %v; want the load balancer and the annotation", st, err)
	}
	st.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.2"}}
	st.Spec.DefaultBackend = nil
	st, err = ings.UpdateStatus(ctx, st, metav1.UpdateOptions{})
	if err != nil || st.Status.LoadBalancer.Ingress[0].IP != "169.1.1.2" || st.Spec.DefaultBackend == nil {
		t.Fatalf("status update: %+v, %v; want the new IP and the spec kept", st, err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	status, err := dyn.Resource(networkingv1.SchemeGroupVersion.WithResource("ingresses")).Namespace(ns).Get(ctx, created.Name, metav1.GetOptions{}, "status")
	if err != nil || status.GetUID() != created.UID {
		t.Fatalf("get status: %v, %v", status, err)
	}

	// No controller holds a finalizer: deletes are immediate.
	if err := ings.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ings.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v, want NotFound", err)
	}
	if err := ings.DeleteCollection(ctx, metav1.DeleteOptions{}, selector); err != nil {
		t.Fatal(err)
	}
	if list, err := ings.List(ctx, selector); err != nil || len(list.Items) != 0 {
		t.Fatalf("list after deletecollection: %d items, %v", len(list.Items), err)
	}
}

// expectNetworkingDiscovery checks what every networking conformance test
// checks first: /apis lists networking.k8s.io/v1, and it serves resource.
func expectNetworkingDiscovery(t *testing.T, c *harness.Cluster, resource string) {
	t.Helper()
	groups, err := c.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name)
	}
	// Upstream's discovery order: batch, certificates, networking, policy.
	i := slices.Index(names, "networking.k8s.io")
	if i < 2 || names[i-2] != "batch" || names[i-1] != "certificates.k8s.io" || names[i+1] != "policy" {
		t.Fatalf("/apis lists %q; want networking.k8s.io between batch, certificates.k8s.io and policy", names)
	}
	if v := groups.Groups[i].Versions; len(v) != 1 || v[0].GroupVersion != "networking.k8s.io/v1" {
		t.Fatalf("networking.k8s.io versions %+v", v)
	}
	group := &metav1.APIGroup{}
	if err := c.Client.Discovery().RESTClient().Get().AbsPath("/apis/networking.k8s.io").Do(context.Background()).Into(group); err != nil ||
		group.PreferredVersion.Version != "v1" {
		t.Fatalf("/apis/networking.k8s.io: %+v, %v", group, err)
	}
	resources, err := c.Client.Discovery().ServerResourcesForGroupVersion("networking.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == resource }) {
		t.Fatalf("/apis/networking.k8s.io/v1 lacks %s: %+v", resource, resources.APIResources)
	}
}

func createNamespace(t *testing.T, c *harness.Cluster, name string) string {
	t.Helper()
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestIngressClassConformance makes the calls of upstream's conformance
// test "should support creating IngressClass API operations", then those of
// its DefaultIngressClass tests: a new Ingress without a class gets the
// newest default class, or none.
func TestIngressClassConformance(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	expectNetworkingDiscovery(t, c, "ingressclasses")
	ics := c.Client.NetworkingV1().IngressClasses()
	class := func(name string, isDefault bool) *networkingv1.IngressClass {
		ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"ingressclass": "e2e", "special-label": "generic"}},
			Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}
		if isDefault {
			ic.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
		}
		return ic
	}
	first, err := ics.Create(ctx, class("ingressclass1", false), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ingressclass2", "ingressclass3"} {
		if _, err := ics.Create(ctx, class(name, false), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := ics.Get(ctx, first.Name, metav1.GetOptions{}); err != nil || got.UID != first.UID {
		t.Fatalf("get: %+v, %v", got, err)
	}
	list, err := ics.List(ctx, metav1.ListOptions{LabelSelector: "special-label=generic"})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list: %d, %v", len(list.Items), err)
	}
	w, err := ics.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "ingressclass=e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patched, err := ics.Patch(ctx, first.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || !revisionAfter(patched.ResourceVersion, first.ResourceVersion) {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	patched.Annotations["updated"] = "true"
	updated, err := ics.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ic, ok := ev.Object.(*networkingv1.IngressClass); ev.Type != watch.Modified || !ok || ic.Annotations["patched"] != "true" {
			t.Fatalf("watch event %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for the patch")
	}
	updated.Spec.Controller = "example.com/other"
	if _, err := ics.Update(ctx, updated, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), `spec.controller: Invalid value: "example.com/other": field is immutable`) {
		t.Fatalf("changing the controller: %v", err)
	}
	if err := ics.Delete(ctx, first.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ics.Get(ctx, first.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v, want NotFound", err)
	}
	if err := ics.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "ingressclass=e2e"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ics.List(ctx, metav1.ListOptions{LabelSelector: "ingressclass=e2e"}); err != nil || len(list.Items) != 0 {
		t.Fatalf("list after deletecollection: %v, %v", list, err)
	}

	// Namespace-scoped parameters are kept; parameters without a scope are the cluster's.
	params := class("with-params", false)
	params.Spec.Parameters = &networkingv1.IngressClassParametersReference{Scope: ptr.To("Namespace"), Namespace: ptr.To("foo-ns"),
		Kind: "fookind", Name: "fooname", APIGroup: ptr.To("example.com")}
	if ic, err := ics.Create(ctx, params, metav1.CreateOptions{}); err != nil || *ic.Spec.Parameters.Scope != "Namespace" {
		t.Fatalf("namespace-scoped parameters: %+v, %v", ic, err)
	}
	params = class("cluster-params", false)
	params.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "fookind", Name: "fooname"}
	if ic, err := ics.Create(ctx, params, metav1.CreateOptions{}); err != nil || ic.Spec.Parameters.Scope == nil || *ic.Spec.Parameters.Scope != "Cluster" {
		t.Fatalf("parameters without scope: %+v, %v", ic, err)
	}

	ns := createNamespace(t, c, "default-class")
	basic := func() *string {
		t.Helper()
		ing := testIngress("", nil)
		ing.Spec.Rules = nil
		created, err := c.Client.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created.Spec.IngressClassName
	}
	if got := basic(); got != nil {
		t.Fatalf("class %q with no default class", *got)
	}
	if _, err := ics.Create(ctx, class("default1", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := basic(); got == nil || *got != "default1" {
		t.Fatalf("class %v, want default1", got)
	}
}

// TestNetworkingServerRules checks what the server adds to and refuses of
// networking objects: generations, defaults, upstream's messages, and
// IPAddress as its conformance test drives it.
func TestNetworkingServerRules(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	api := c.Client.NetworkingV1()

	ing := testIngress("foo.bar.com", nil)
	ing.Name = "no-path-type"
	ing.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	_, err := api.Ingresses("default").Create(ctx, ing, metav1.CreateOptions{})
	if want := `Ingress.networking.k8s.io "no-path-type" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified`; err == nil || err.Error() != want {
		t.Fatalf("an Ingress without pathType: %v\nwant: %s", err, want)
	}
	ing.Spec.Rules[0].HTTP.Paths[0].PathType = ptr.To(networkingv1.PathTypePrefix)
	ing, err = api.Ingresses("default").Create(ctx, ing, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ing.Spec.Rules[0].Host = "other.bar.com"
	if ing, err = api.Ingresses("default").Update(ctx, ing, metav1.UpdateOptions{}); err != nil || ing.Generation != 2 {
		t.Fatalf("a spec change: %+v, %v; want generation 2", ing, err)
	}

	np, err := api.NetworkPolicies("default").Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "egress"},
		Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53))}}}}}}, metav1.CreateOptions{})
	if err != nil || !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) ||
		*np.Spec.Egress[0].Ports[0].Protocol != corev1.ProtocolTCP || np.Generation != 1 {
		t.Fatalf("network policy defaults: %+v, %v", np, err)
	}

	// As upstream's "should support IPAddress API operations".
	ref := &networkingv1.ParentReference{Group: "mygroup", Resource: "myresources", Namespace: "foo", Name: "bar"}
	ips := api.IPAddresses()
	ip, err := ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "255.255.255.255", Labels: map[string]string{"type": "broadcast"}},
		Spec: networkingv1.IPAddressSpec{ParentRef: ref}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "fe80::42:1dff:fe84:f9e2", Labels: map[string]string{"type": "link-local"}},
		Spec: networkingv1.IPAddressSpec{ParentRef: ref}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patched, err := ips.Patch(ctx, ip.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || !revisionAfter(patched.ResourceVersion, ip.ResourceVersion) {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	patched.Annotations["updated"] = "true"
	updatedIP, err := ips.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	updatedIP.Spec.ParentRef = &networkingv1.ParentReference{Resource: "services", Name: "other"}
	if _, err := ips.Update(ctx, updatedIP, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.parentRef: Invalid value") {
		t.Fatalf("moving an address: %v", err)
	}
	if list, err := ips.List(ctx, metav1.ListOptions{LabelSelector: "type=broadcast"}); err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	w, err := ips.Watch(ctx, metav1.ListOptions{LabelSelector: "type=broadcast"})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if err := ips.Delete(ctx, ip.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ips.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "type=link-local"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ips.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Fatalf("list after deletes: %v, %v", list, err)
	}
	if _, err := ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "not-an-ip"},
		Spec: networkingv1.IPAddressSpec{ParentRef: ref}}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("an address named not-an-ip: %v, want Invalid", err)
	}
}

const (
	networkPolicyYAML = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: web
    ports:
    - port: 5432
`
	ingressClassYAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: NAME
spec:
  controller: example.com/ingress
  parameters:
    apiGroup: k8s.example.com
    kind: IngressParameters
    name: external-lb
`
	noPathTypeYAML = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bad
spec:
  rules:
  - host: foo.com
    http:
      paths:
      - path: /
        backend:
          service:
            name: svc
            port:
              number: 80
`
)

// TestNetworkingWithKubectl serves networking.k8s.io/v1 to every kubectl:
// api-resources with the short names, explain, `create ingress` and the
// columns of `get ing`, `get netpol` and `get ingressclass`, upstream's
// message for an Ingress path without pathType, and delete.
func TestNetworkingWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			suffix := strings.ReplaceAll(k.Version, ".", "-")
			ns := createNamespace(t, c, "net-"+suffix)
			run := func(stdin string, args ...string) string { t.Helper(); return c.MustRun(t, k, stdin, args...) }

			resources := run("", "api-resources", "--api-group=networking.k8s.io")
			for _, line := range [][]string{
				{"ingressclasses", "networking.k8s.io/v1", "false", "IngressClass"},
				{"ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"},
				{"ipaddresses", "ip", "networking.k8s.io/v1", "false", "IPAddress"},
				{"networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"},
				{"servicecidrs", "networking.k8s.io/v1", "false", "ServiceCIDR"},
			} {
				if !hasLine(resources, line...) {
					t.Fatalf("api-resources lacks %q:\n%s", line, resources)
				}
			}
			mustContain(t, "explain", run("", "explain", "ingress.spec.rules.http.paths"), "pathType", "backend")

			mustContain(t, "create ingress", run("", "create", "ingress", "web", "-n", ns, "--class=nginx",
				"--rule=foo.com/bar=svc1:8080,tls=my-cert", "--rule=bar.com/*=svc2:http"), "ingress.networking.k8s.io/web created")
			out := run("", "get", "ing", "-n", ns)
			if !hasLine(out, "NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE") || !hasRow(out, "web", "nginx", "foo.com,bar.com", "80,", "443", anyField) {
				t.Fatalf("kubectl get ing:\n%s", out)
			}
			// kubectl chose the path types, the server kept them.
			if got := run("", "get", "ingress", "web", "-n", ns, "-o", "jsonpath={.spec.rules[*].http.paths[*].pathType}"); got != "Exact Prefix" {
				t.Fatalf("path types %q, want Exact Prefix", got)
			}

			mustContain(t, "create netpol", run(networkPolicyYAML, "create", "-n", ns, "-f", "-"), "networkpolicy.networking.k8s.io/db created")
			out = run("", "get", "netpol", "-n", ns)
			if !hasLine(out, "NAME", "POD-SELECTOR", "AGE") || !hasRow(out, "db", "app=db", anyField) {
				t.Fatalf("kubectl get netpol:\n%s", out)
			}

			class := "ic-" + suffix
			run(strings.Replace(ingressClassYAML, "NAME", class, 1), "create", "-f", "-")
			out = run("", "get", "ingressclass", class)
			if !hasLine(out, "NAME", "CONTROLLER", "PARAMETERS", "AGE") ||
				!hasRow(out, class, "example.com/ingress", "IngressParameters.k8s.example.com/external-lb", anyField) {
				t.Fatalf("kubectl get ingressclass:\n%s", out)
			}

			_, errOut, err := c.Run(k, noPathTypeYAML, "create", "-n", ns, "-f", "-")
			if err == nil {
				t.Fatal("an Ingress path without pathType was created")
			}
			mustContain(t, "no pathType", errOut,
				`The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified`)

			mustContain(t, "delete", run("", "delete", "ing", "web", "-n", ns), `ingress.networking.k8s.io "web" deleted`)
			run("", "delete", "ingressclass", class)
		})
	}
}

// TestDefaultServiceCIDR: the API server publishes its service range as the
// ServiceCIDR "kubernetes", as upstream's does (the ServiceCIDR conformance
// test reads it and its status).
func TestDefaultServiceCIDR(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	cidr, err := c.Client.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := c.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, ipnet, err := net.ParseCIDR(cidr.Spec.CIDRs[0])
	if err != nil || len(cidr.Spec.CIDRs) != 1 || !ipnet.Contains(net.ParseIP(svc.Spec.ClusterIP)) {
		t.Errorf("ServiceCIDR kubernetes: %v (%v), the kubernetes Service at %s", cidr.Spec.CIDRs, err, svc.Spec.ClusterIP)
	}
}
