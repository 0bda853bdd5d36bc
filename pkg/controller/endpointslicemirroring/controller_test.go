package endpointslicemirroring_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/endpointslice"
	"github.com/skiffhq/skiff/pkg/controller/endpointslicemirroring"
	"github.com/skiffhq/skiff/test/harness"
)

// start runs the mirroring controller and, to show they leave each other's
// slices alone, the endpointslice controller, on a control plane of their own.
func start(t *testing.T) kubernetes.Interface {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	controllertest.Run(t, factory,
		endpointslicemirroring.New(c.Client, factory, endpointslicemirroring.Options{}),
		// One worker, so that its syncs happen in the order of their causes.
		endpointslice.New(c.Client, factory, endpointslice.Options{Workers: 1}))
	return c.Client
}

func createService(t *testing.T, cs kubernetes.Interface, ns, name string, selector map[string]string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: selector,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := cs.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s: %v", name, err)
	}
}

func endpoints(name string, ips ...string) *corev1.Endpoints {
	ss := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}}}
	for _, ip := range ips {
		ss.Addresses = append(ss.Addresses, corev1.EndpointAddress{IP: ip})
	}
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name}, Subsets: []corev1.EndpointSubset{ss}}
}

// summary renders the Service's slices as a user reads them: one line each,
// managed-by [ports] addresses, sorted.
func summary(t *testing.T, cs kubernetes.Interface, ns, svc string) (string, []discoveryv1.EndpointSlice) {
	t.Helper()
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range list.Items {
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, "")))
		}
		for _, e := range s.Endpoints {
			eps = append(eps, strings.Join(e.Addresses, ","))
		}
		lines = append(lines, fmt.Sprintf("%s [%s] %s", s.Labels[discoveryv1.LabelManagedBy], strings.Join(ports, " "), strings.Join(eps, " ")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), list.Items
}

func waitSummary(t *testing.T, cs kubernetes.Interface, ns, svc, want string) []discoveryv1.EndpointSlice {
	t.Helper()
	var items []discoveryv1.EndpointSlice
	controllertest.Eventually(t, "slices of "+ns+"/"+svc, func() (bool, string) {
		var got string
		got, items = summary(t, cs, ns, svc)
		return got == want, "got:\n" + got + "\nwant:\n" + want
	})
	return items
}

const mirrored = endpointslicemirroring.ControllerName

func TestMirrorFollowsEndpoints(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	eps := cs.CoreV1().Endpoints("default")
	createService(t, cs, "default", "db", nil)
	ep := endpoints("db", "10.1.2.3")
	ep.Labels = map[string]string{"tier": "data"}
	ep.Annotations = map[string]string{"owner": "dba", corev1.LastAppliedConfigAnnotation: "{}"}
	ep, err := eps.Create(ctx, ep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := waitSummary(t, cs, "default", "db", mirrored+" [http:8080/TCP] 10.1.2.3")
	first := got[0]
	if want := map[string]string{"tier": "data", discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: mirrored}; !maps.Equal(first.Labels, want) {
		t.Errorf("labels %v, want %v", first.Labels, want)
	}
	if want := map[string]string{"owner": "dba"}; !maps.Equal(first.Annotations, want) {
		t.Errorf("annotations %v, want %v", first.Annotations, want)
	}
	if o := first.OwnerReferences; len(o) != 1 || o[0].Kind != "Endpoints" || o[0].UID != ep.UID {
		t.Errorf("owners %+v, want the Endpoints", o)
	}

	// The endpointslice controller syncing the Service leaves the slice alone.
	svc, err := cs.CoreV1().Services("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Labels = map[string]string{"resync": "please"}
	if _, err := cs.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	createService(t, cs, "default", "barrier", map[string]string{"app": "barrier"})
	waitSummary(t, cs, "default", "barrier", endpointslice.ControllerName+" [] ")
	if sum, got := summary(t, cs, "default", "db"); len(got) != 1 || got[0].UID != first.UID {
		t.Fatalf("after the endpointslice controller synced the Service, its slices are:\n%s\nwant %s kept", sum, first.Name)
	}

	// An update, even one that changes the ports, rewrites the same slice.
	ep.Subsets = endpoints("db", "10.2.3.4", "10.2.3.5").Subsets
	ep.Subsets[0].Ports[0].Port = 9090
	if ep, err = eps.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got = waitSummary(t, cs, "default", "db", mirrored+" [http:9090/TCP] 10.2.3.4 10.2.3.5")
	if got[0].Name != first.Name {
		t.Errorf("slice %s replaced by %s, want it updated", first.Name, got[0].Name)
	}

	if err := eps.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", "")
}

func TestMirrorStopsWhenItShould(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	svcs, eps := cs.CoreV1().Services("default"), cs.CoreV1().Endpoints("default")
	createService(t, cs, "default", "db", nil)
	ep, err := eps.Create(ctx, endpoints("db", "10.0.0.1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one := mirrored + " [http:8080/TCP] 10.0.0.1"
	waitSummary(t, cs, "default", "db", one)

	ep.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
	if ep, err = eps.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", "")
	ep.Labels = nil
	if _, err = eps.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", one)

	// With a selector the slices are the endpointslice controller's (no pods
	// match: its empty placeholder), whoever wrote the Endpoints.
	svc, err := svcs.Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector = map[string]string{"app": "db"}
	if svc, err = svcs.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", endpointslice.ControllerName+" [] ")
	svc.Spec.Selector = nil
	if _, err = svcs.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", one)

	if err := svcs.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", "")
}

// TestEndpointsOfSelectorServicesAreNotMirrored: Endpoints of a Service with
// a selector (the endpoints controller's) get no mirror, and neither do those
// whose Service does not exist (yet).
func TestEndpointsOfSelectorServicesAreNotMirrored(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	eps := cs.CoreV1().Endpoints("default")
	createService(t, cs, "default", "web", map[string]string{"app": "web"})
	for _, name := range []string{"web", "orphan"} {
		if _, err := eps.Create(ctx, endpoints(name, "10.0.0.1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Mirroring one created later shows the controller has seen them.
	createService(t, cs, "default", "later", nil)
	if _, err := eps.Create(ctx, endpoints("later", "10.0.0.2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "later", mirrored+" [http:8080/TCP] 10.0.0.2")
	// web's only slice is the endpointslice controller's own, which it
	// writes in its own time.
	waitSummary(t, cs, "default", "web", endpointslice.ControllerName+" [] ")
	if got, _ := summary(t, cs, "default", "orphan"); got != "" {
		t.Errorf("slices of orphan:\n%s\nwant none", got)
	}
	// The orphan's Service arrives.
	createService(t, cs, "default", "orphan", nil)
	waitSummary(t, cs, "default", "orphan", mirrored+" [http:8080/TCP] 10.0.0.1")
}

// TestRepairsItsSlices: a mirrored slice deleted or edited by someone else is
// put back.
func TestRepairsItsSlices(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	createService(t, cs, "default", "db", nil)
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, endpoints("db", "10.0.0.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := mirrored + " [http:8080/TCP] 10.0.0.1"
	got := waitSummary(t, cs, "default", "db", one)
	api := cs.DiscoveryV1().EndpointSlices("default")
	edited := got[0].DeepCopy()
	edited.Endpoints[0].Addresses = []string{"10.9.9.9"}
	if _, err := api.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, "default", "db", one)
	if err := api.Delete(ctx, got[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got = waitSummary(t, cs, "default", "db", one)
	if got[0].Name == edited.Name {
		t.Errorf("the deleted slice %s is still there", edited.Name)
	}
}
