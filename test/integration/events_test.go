package integration

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiffhq/skiff/test/harness"
)

// conformanceEvent is the event upstream's events.k8s.io conformance tests
// create.
func conformanceEvent(namespace, name, label string) *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: name, Labels: map[string]string{label: "true"}},
		Regarding:           corev1.ObjectReference{Namespace: namespace},
		EventTime:           metav1.MicroTime{Time: time.Unix(1505828956, 0)},
		Note:                "This is " + name,
		Action:              "Do",
		Reason:              "Test",
		Type:                "Normal",
		ReportingController: "test-controller",
		ReportingInstance:   "test-node",
	}
}

// TestEventsAPI makes the calls of upstream's conformance tests of the
// events.k8s.io/v1 Events API ("should ensure that an event can be fetched,
// patched, deleted, and listed" and "should delete a collection of
// events"), after checking discovery lists the group where upstream does.
func TestEventsAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()

	groups, err := c.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name)
		if g.Name == "events.k8s.io" && (g.PreferredVersion.GroupVersion != "events.k8s.io/v1" || len(g.Versions) != 1) {
			t.Errorf("/apis lists events.k8s.io as %+v, want events.k8s.io/v1 alone", g)
		}
	}
	if i := slices.Index(names, "events.k8s.io"); i < 2 || names[i-1] != "apps" {
		t.Errorf("/apis lists groups in the order %q; want events.k8s.io after apps, as upstream", names)
	}
	resources, err := c.Client.Discovery().ServerResourcesForGroupVersion("events.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(resources.APIResources) != 1 || resources.APIResources[0].Name != "events" || resources.APIResources[0].Kind != "Event" ||
		!resources.APIResources[0].Namespaced || len(resources.APIResources[0].Verbs) != 8 {
		t.Errorf("/apis/events.k8s.io/v1 serves %+v, want namespaced events with every verb", resources.APIResources)
	}

	const ns = "default"
	coreClient := c.Client.CoreV1().Events(ns)
	client := c.Client.EventsV1().Events(ns)
	clientAllNamespaces := c.Client.EventsV1().Events("")
	exists := func(cl interface {
		List(context.Context, metav1.ListOptions) (*eventsv1.EventList, error)
	}, name string) bool {
		t.Helper()
		list, err := cl.List(ctx, metav1.ListOptions{LabelSelector: "testevent-constant=true"})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool { return e.Name == name && e.Namespace == ns })
	}

	created, err := client.Create(ctx, conformanceEvent(ns, "event-test", "testevent-constant"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion == "" {
		t.Fatal("created without a resourceVersion")
	}
	if !exists(clientAllNamespaces, "event-test") || !exists(client, "event-test") {
		t.Fatal("the event is missing from a list of all namespaces or of its own")
	}
	coreList, err := coreClient.List(ctx, metav1.ListOptions{FieldSelector: "source=test-controller"})
	if err != nil || len(coreList.Items) != 1 || coreList.Items[0].Name != "event-test" || coreList.Items[0].Message != "This is event-test" {
		t.Fatalf("core/v1 events with source=test-controller: %+v, %v", coreList, err)
	}
	v1List, err := client.List(ctx, metav1.ListOptions{FieldSelector: "reportingController=test-controller"})
	if err != nil || len(v1List.Items) != 1 || v1List.Items[0].Name != "event-test" {
		t.Fatalf("events.k8s.io/v1 events with reportingController=test-controller: %+v, %v", v1List, err)
	}

	testEvent, err := client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldData, _ := json.Marshal(testEvent)
	newEvent := testEvent.DeepCopy()
	series := &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.MicroTime{Time: time.Unix(1505828951, 0)}}
	newEvent.Series = series
	newData, _ := json.Marshal(newEvent)
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, eventsv1.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Patch(ctx, "event-test", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	event, err := client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !revisionAfter(event.ResourceVersion, created.ResourceVersion) {
		t.Errorf("patched resourceVersion %s, want after %s", event.ResourceVersion, created.ResourceVersion)
	}
	event.ResourceVersion, testEvent.ResourceVersion = "", ""
	testEvent.Series = series
	if !equality.Semantic.DeepEqual(testEvent, event) {
		t.Fatalf("patched event\n%+v\nwant\n%+v", event, testEvent)
	}

	testEvent.Series = &eventsv1.EventSeries{Count: 100, LastObservedTime: metav1.MicroTime{Time: time.Unix(1505828956, 0)}}
	if _, err := client.Update(ctx, testEvent, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	event, err = client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	event.ResourceVersion = ""
	if !equality.Semantic.DeepEqual(testEvent, event) {
		t.Fatalf("updated event\n%+v\nwant\n%+v", event, testEvent)
	}
	if err := client.Delete(ctx, "event-test", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if exists(clientAllNamespaces, "event-test") || exists(client, "event-test") {
		t.Fatal("the deleted event is still listed")
	}

	for _, name := range []string{"test-event-1", "test-event-2", "test-event-3"} {
		if _, err := client.Create(ctx, conformanceEvent(ns, name, "testevent-set"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := client.List(ctx, metav1.ListOptions{LabelSelector: "testevent-set=true"}); err != nil || len(list.Items) != 3 {
		t.Fatalf("list of the set: %+v, %v; want 3", list, err)
	}
	if err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "testevent-set=true"}); err != nil {
		t.Fatal(err)
	}
	if list, err := client.List(ctx, metav1.ListOptions{LabelSelector: "testevent-set=true"}); err != nil || len(list.Items) != 0 {
		t.Fatalf("list of the set after deletecollection: %+v, %v; want none", list, err)
	}
}

// TestKubectlEvents: every kubectl shows an event written through either
// group with `get events` (core/v1, as upstream resolves the plural),
// `get events.v1.events.k8s.io` and `events`.
func TestKubectlEvents(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	const ns = "default"
	fresh := conformanceEvent(ns, "new-style", "kubectl")
	fresh.EventTime = metav1.NewMicroTime(time.Now())
	fresh.Regarding = corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web", APIVersion: "v1"}
	fresh.Type, fresh.Reason, fresh.Note = corev1.EventTypeWarning, "Failed", "Failed to pull image"
	if _, err := c.Client.EventsV1().Events(ns).Create(ctx, fresh, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	if _, err := c.Client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "old-style"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "db", APIVersion: "v1"},
		Reason:         "Scheduled", Message: "Successfully assigned default/db to n1", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "default-scheduler"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Whatever the columns' widths, each event's row holds these cells in
	// order; `kubectl events` names the object's kind as its own printer does.
	rows := func(pod string) [][]string {
		return [][]string{
			{"Warning", "Failed", pod + "/web", "Failed", "to", "pull", "image"},
			{"Normal", "Scheduled", pod + "/db", "Successfully", "assigned", "default/db", "to", "n1"},
		}
	}
	for _, k := range harness.Kubectls(t) {
		for _, tc := range []struct {
			args []string
			want [][]string
		}{
			{[]string{"get", "events"}, rows("pod")},
			{[]string{"get", "events.v1.events.k8s.io"}, rows("pod")},
			{[]string{"get", "ev"}, rows("pod")},
			{[]string{"events"}, rows("Pod")},
		} {
			out := c.MustRun(t, k, "", append([]string{"-n", ns}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if header := strings.Fields(lines[0]); !slices.Equal(header, []string{"LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}) {
				t.Errorf("kubectl %s (%s): header %q", strings.Join(tc.args, " "), k.Version, lines[0])
			}
			for _, cells := range tc.want {
				if !slices.ContainsFunc(lines[1:], func(l string) bool { return containsRun(strings.Fields(l), cells) }) {
					t.Errorf("kubectl %s (%s): no row with %q in\n%s", strings.Join(tc.args, " "), k.Version, cells, out)
				}
			}
		}
	}
}

// containsRun reports whether run occurs in fields, contiguous.
func containsRun(fields, run []string) bool {
	for i := 0; i+len(run) <= len(fields); i++ {
		if slices.Equal(fields[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
