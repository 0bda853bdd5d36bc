package apiserver_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestViewReadsAndWritesTheStoredKind: events.k8s.io/v1 Events, a view of
// core/v1 Events, are the same objects read and written through either
// group, converted; selectors and validation are the view's own; a watch of
// the view follows writes of the stored kind, converted, in its namespace
// and selector, in JSON and in protobuf.
func TestViewReadsAndWritesTheStoredKind(t *testing.T) {
	s := apiserver.New(apiserver.Config{Storage: memory.New(), Registry: registry.New(registry.Options{}.WithDefaults()),
		Tokens: map[string]apiserver.User{"admin": {Name: "admin", Groups: []string{"system:masters"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	ts := httptest.NewServer(s)
	defer ts.Close()
	cfg := &rest.Config{Host: ts.URL, BearerToken: "admin"}
	client := kubernetes.NewForConfigOrDie(cfg)
	pbConfig := rest.CopyConfig(cfg)
	pbConfig.ContentType = "application/vnd.kubernetes.protobuf"
	pb := kubernetes.NewForConfigOrDie(pbConfig)
	for _, ns := range []string{"default", "other"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	core := client.CoreV1().Events("default")
	v1 := client.EventsV1().Events("default")

	// Written through the view, read through the stored kind.
	created, err := v1.Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "new-style", Labels: map[string]string{"set": "a"}},
		Regarding:  corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		EventTime:  metav1.NewMicroTime(time.Unix(1505828956, 0)), Note: "This is new-style",
		Action: "Do", Reason: "Test", Type: corev1.EventTypeNormal,
		ReportingController: "test-controller", ReportingInstance: "test-node",
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	asCore, err := core.Get(ctx, "new-style", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if asCore.UID != created.UID || asCore.ResourceVersion != created.ResourceVersion || asCore.Message != "This is new-style" ||
		asCore.InvolvedObject.Name != "web" || asCore.ReportingController != "test-controller" || !asCore.EventTime.Equal(&created.EventTime) {
		t.Errorf("through core/v1: %+v\nwant the event created through events.k8s.io/v1: %+v", asCore, created)
	}

	// Written through the stored kind, read through the view.
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	if _, err := core.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "old-style", Labels: map[string]string{"set": "a"}},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "db"},
		Reason:         "BackOff", Message: "Back-off restarting", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "n1"}, FirstTimestamp: now, LastTimestamp: now, Count: 3,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	old, err := v1.Get(ctx, "old-style", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if old.APIVersion != "" && old.APIVersion != "events.k8s.io/v1" || old.Note != "Back-off restarting" ||
		old.DeprecatedCount != 3 || old.DeprecatedSource.Host != "n1" || !old.DeprecatedLastTimestamp.Equal(&now) || old.Regarding.Name != "db" {
		t.Errorf("through events.k8s.io/v1: %+v", old)
	}

	// Field selectors in each group's own terms.
	for _, tc := range []struct {
		selector string
		list     func(string) (any, error)
		want     string
	}{
		{"reportingController=test-controller", listNames(v1), "[new-style]"},
		{"regarding.name=db,type=Normal", listNames(v1), "[old-style]"},
		{"source=test-controller", coreNames(core), "[new-style]"},
		{"involvedObject.name=db", coreNames(core), "[old-style]"},
	} {
		if got, err := tc.list(tc.selector); err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("fieldSelector %s: %v, %v; want %s", tc.selector, got, err, tc.want)
		}
	}
	if _, err := v1.List(ctx, metav1.ListOptions{FieldSelector: "source=kubelet"}); !apierrors.IsBadRequest(err) {
		t.Errorf("events.k8s.io/v1 with core's field source: %v; want 400", err)
	}

	// Watches of the view, in JSON and in protobuf, from now: a core write
	// in another namespace is not theirs, and a change of type makes
	// old-style enter and leave their selector.
	var watches []watch.Interface
	for _, c := range []kubernetes.Interface{client, pb} {
		w, err := c.EventsV1().Events("default").Watch(ctx, metav1.ListOptions{FieldSelector: "type=Warning", ResourceVersion: old.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		watches = append(watches, w)
	}
	if _, err := client.CoreV1().Events("other").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "elsewhere"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "x"}, Type: corev1.EventTypeWarning,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setType := func(typ string) {
		t.Helper()
		if _, err := core.Patch(ctx, "old-style", types.MergePatchType, []byte(`{"type":"`+typ+`"}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setType(corev1.EventTypeWarning)
	if _, err := core.Patch(ctx, "old-style", types.MergePatchType, []byte(`{"count":4}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	setType(corev1.EventTypeNormal)
	for i, w := range watches {
		var got []string
		for len(got) < 3 {
			select {
			case ev := <-w.ResultChan():
				obj, ok := ev.Object.(*eventsv1.Event)
				if !ok {
					t.Fatalf("watch %d: %s of %T", i, ev.Type, ev.Object)
				}
				got = append(got, fmt.Sprintf("%s %s %s", ev.Type, obj.Name, obj.Note))
				if ev.Type == watch.Modified && obj.DeprecatedCount != 4 {
					t.Errorf("watch %d: modified to count %d, want 4", i, obj.DeprecatedCount)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("watch %d: only %q after 10s", i, got)
			}
		}
		if want := "[ADDED old-style Back-off restarting MODIFIED old-style Back-off restarting DELETED old-style Back-off restarting]"; fmt.Sprint(got) != want {
			t.Errorf("watch %d saw %q; want %s", i, got, want)
		}
	}
	if list, err := pb.EventsV1().Events("").List(ctx, metav1.ListOptions{LabelSelector: "set=a"}); err != nil || len(list.Items) != 2 || list.Items[0].Note != "This is new-style" {
		t.Errorf("protobuf list of the view: %+v, %v", list, err)
	}

	// The view validates as its group does upstream: a new-style event
	// wants its reporting instance, and only its series may change.
	noInstance := created.DeepCopy()
	noInstance.Name, noInstance.ResourceVersion, noInstance.ReportingInstance = "no-instance", "", ""
	if _, err := v1.Create(ctx, noInstance, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("create without reportingInstance: %v; want 422", err)
	}
	renoted := created.DeepCopy()
	renoted.Note = "changed"
	if _, err := v1.Update(ctx, renoted, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("update of the note: %v; want 422", err)
	}
	if same, err := v1.Update(ctx, created, metav1.UpdateOptions{}); err != nil || same.ResourceVersion != created.ResourceVersion {
		t.Errorf("an update that changes nothing: %+v, %v; want resourceVersion %s, nothing written", same, err, created.ResourceVersion)
	}
	patched, err := v1.Patch(ctx, "new-style", types.StrategicMergePatchType,
		[]byte(`{"series":{"count":2,"lastObservedTime":"2017-09-19T13:49:11.000000Z"}}`), metav1.PatchOptions{})
	if err != nil || patched.Series == nil || patched.Series.Count != 2 {
		t.Fatalf("patch of the series: %+v, %v", patched, err)
	}
	if c, err := core.Get(ctx, "new-style", metav1.GetOptions{}); err != nil || c.Series == nil || c.Series.Count != 2 || c.ResourceVersion != patched.ResourceVersion ||
		c.Message != "This is new-style" || c.InvolvedObject.Name != "web" {
		t.Errorf("core/v1 after the patch: %+v, %v", c, err)
	}

	// Deletes through the view delete the stored objects.
	if _, err := v1.Create(ctx, noInstance, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsInvalid(err) {
		t.Errorf("dry run create of an invalid event: %v; want 422", err)
	}
	if err := v1.Delete(ctx, "new-style", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Get(ctx, "new-style", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("core/v1 get after a delete through the view: %v; want 404", err)
	}
	if err := v1.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "set=a"}); err != nil {
		t.Fatal(err)
	}
	if list, err := core.List(ctx, metav1.ListOptions{LabelSelector: "set=a"}); err != nil || len(list.Items) != 0 {
		t.Errorf("core/v1 list after deletecollection through the view: %d items, %v", len(list.Items), err)
	}
}

func listNames(c interface {
	List(ctx context.Context, opts metav1.ListOptions) (*eventsv1.EventList, error)
}) func(string) (any, error) {
	return func(sel string) (any, error) {
		l, err := c.List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range l.Items {
			names = append(names, e.Name)
		}
		return names, nil
	}
}

func coreNames(c interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.EventList, error)
}) func(string) (any, error) {
	return func(sel string) (any, error) {
		l, err := c.List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range l.Items {
			names = append(names, e.Name)
		}
		return names, nil
	}
}
