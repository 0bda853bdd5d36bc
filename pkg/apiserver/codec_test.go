package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestWithResourceVersion: the cache derives an object's served JSON from its
// stored bytes; it must be byte for byte what encoding the object would give.
func TestWithResourceVersion(t *testing.T) {
	now := metav1.Unix(1700000000, 0)
	replicas := int32(3)
	cases := []struct {
		gvk schema.GroupVersionKind
		obj runtime.Object
	}{
		{corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", GenerateName: "p-", Namespace: "default", UID: "u1", CreationTimestamp: now,
				Labels: map[string]string{"run": "x", "generation": `"creationTimestamp":`}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}},
		{corev1.SchemeGroupVersion.WithKind("ReplicationController"), &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default", UID: "u2", Generation: 4, CreationTimestamp: now},
			Spec: corev1.ReplicationControllerSpec{Replicas: &replicas, Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"run": "x"}}}},
		}},
		{corev1.SchemeGroupVersion.WithKind("Namespace"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}},
		{appsv1.SchemeGroupVersion.WithKind("Deployment"), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default", Generation: 1, DeletionTimestamp: &now}}},
		{corev1.SchemeGroupVersion.WithKind("Event"), &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", ResourceVersion: "7"}}},
	}
	for _, c := range cases {
		res := &Resource{GVK: c.gvk}
		stored, err := storedBytes(res, c.obj)
		if err != nil {
			t.Fatal(err)
		}
		objectMeta(c.obj).ResourceVersion = "12345"
		want, err := encodeJSON(c.obj, c.gvk)
		if err != nil {
			t.Fatal(err)
		}
		if got := withResourceVersion(stored, "12345"); !bytes.Equal(got, want) {
			t.Errorf("%s: withResourceVersion =\n%s\nwant\n%s", c.gvk.Kind, got, want)
		}
		if got := withResourceVersion(want, "12346"); got != nil {
			t.Errorf("%s: a second resourceVersion was added:\n%s", c.gvk.Kind, got)
		}
	}
}

// TestEntryObject: an entry keeps only its protobuf when that reproduces the
// JSON, and decodes and serves as JSON exactly the object it was built from; an
// object with an empty list, which protobuf would lose, keeps its JSON.
func TestEntryObject(t *testing.T) {
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1", ResourceVersion: "9",
			CreationTimestamp: metav1.Unix(1700000000, 0), Labels: map[string]string{"run": "x"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	want, err := encodeJSON(pod.DeepCopy(), res.GVK)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEntry("/registry/pods/default/p", res, pod.DeepCopy(), nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	if e.pb == nil || e.raw != nil {
		t.Fatalf("a pod's entry keeps protobuf %v, JSON %v; want only protobuf", e.pb != nil, e.raw != nil)
	}
	if got := e.json(); !bytes.Equal(got, want) {
		t.Errorf("JSON derived from protobuf\n%s\nwant\n%s", got, want)
	}
	obj, err := e.object()
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := encodeJSON(obj, res.GVK); !bytes.Equal(raw, want) {
		t.Errorf("decoded object encodes as\n%s\nwant\n%s", raw, want)
	}

	empty := pod.DeepCopy()
	empty.Spec.Containers = []corev1.Container{}
	wantEmpty, _ := encodeJSON(empty.DeepCopy(), res.GVK)
	if !bytes.Contains(wantEmpty, []byte(`"containers":[]`)) {
		t.Fatalf("test object has no empty list: %s", wantEmpty)
	}
	ee, err := newEntry("/registry/pods/default/p", res, empty, nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	if ee.raw == nil {
		t.Fatal("an object with an empty list dropped its JSON")
	}
	if got := ee.json(); !bytes.Equal(got, wantEmpty) {
		t.Errorf("JSON\n%s\nwant\n%s", got, wantEmpty)
	}
	if obj, err := ee.object(); err != nil {
		t.Fatal(err)
	} else if raw, _ := encodeJSON(obj, res.GVK); !bytes.Equal(raw, wantEmpty) {
		t.Errorf("decoded object with an empty list encodes as\n%s\nwant\n%s", raw, wantEmpty)
	}
	if e.name != "p" || e.namespace != "default" || e.labels.Get("run") != "x" || e.deleting {
		t.Errorf("entry metadata: %+v", e)
	}
	if !e.fields.Has("metadata.name") || e.fields.Get("metadata.namespace") != "default" || e.fields.Has("spec.nodeName") && e.fields.Get("spec.nodeName") != "n1" {
		t.Errorf("fields: %v", e.fields)
	}
	if e.fields.Has("nope") || e.fields.Get("nope") != "" {
		t.Errorf("fields has a field it should not: %v", e.fields)
	}
}

// TestSplicedList: a protobuf list spliced from cached encodings is byte for
// byte the encoding of the typed list.
func TestSplicedList(t *testing.T) {
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }}
	var items []*entry
	for i, name := range []string{"a", "b", "c"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "u", ResourceVersion: "9",
				Labels: map[string]string{"run": name}},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}
		e, err := newEntry("/registry/pods/default/"+name, res, pod, nil, int64(9+i))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, e)
	}
	left := int64(7)
	for _, lm := range []metav1.ListMeta{{ResourceVersion: "12"}, {ResourceVersion: "12", Continue: "x", RemainingItemCount: &left}} {
		for _, n := range []int{0, 1, 3} {
			got, ok := splicedList(res, lm, items[:n])
			if !ok {
				t.Fatal("a pod list was not spliced")
			}
			list := &corev1.PodList{ListMeta: lm}
			for _, e := range items[:n] {
				list.Items = append(list.Items, *e.mustObject().(*corev1.Pod))
			}
			list.GetObjectKind().SetGroupVersionKind(listGVK(res))
			want, err := encodeProtobuf(list)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%d items, %+v: spliced\n%q\nwant\n%q", n, lm, got, want)
			}
		}
	}
}

// TestEncodesExactly: the kinds whose in-memory form can hold what their JSON
// drops are built from stored bytes, never from a writer's object.
func TestEncodesExactly(t *testing.T) {
	for _, c := range []struct {
		obj  runtime.Object
		want bool
	}{
		{&corev1.Pod{}, true},
		{&corev1.ReplicationController{}, true},
		{&corev1.Node{}, true},
		{&corev1.Event{}, false},              // eventTime is a MicroTime
		{&appsv1.ControllerRevision{}, false}, // data is a RawExtension
	} {
		obj := c.obj
		res := &Resource{GVK: schema.GroupVersionKind{Kind: reflect.TypeOf(obj).Elem().Name()}, New: func() runtime.Object { return obj.DeepCopyObject() }}
		if got := encodesExactly(res); got != c.want {
			t.Errorf("%T: encodesExactly = %v, want %v", obj, got, c.want)
		}
	}
}

// TestWriteAnswers: a write answers a protobuf client with the cached entry's
// protobuf and a JSON client with its JSON, and respond labels each; a write
// whose answer nobody reads derives nothing.
func TestWriteAnswers(t *testing.T) {
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "3"}}
	e, err := newEntry("/registry/pods/default/p", res, pod, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		accept, wantType string
		want             []byte
	}{
		{protobufType, protobufType, e.pb},
		{"application/json", "application/json", e.json()},
		{"", "application/json", e.json()},
	} {
		r := httptest.NewRequest(http.MethodPut, "/api/v1/namespaces/default/pods/p", nil)
		r.Header.Set("Accept", c.accept)
		raw := encodedEntry(wantProtobuf(r), e)
		if !bytes.Equal(raw, c.want) {
			t.Errorf("Accept %q: answered %q, want %q", c.accept, raw, c.want)
		}
		w := httptest.NewRecorder()
		respond(w, http.StatusOK, raw)
		if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, c.wantType) {
			t.Errorf("Accept %q: Content-Type %q, want %q", c.accept, got, c.wantType)
		}
	}
	if raw := encodedEntry(noAnswer(context.Background()), e); raw != nil {
		t.Errorf("an answer nobody reads was encoded: %q", raw)
	}
}

// TestJSONFromStorage: an entry that keeps no JSON is served from the bytes
// storage holds at its revision, byte for byte what encoding the object gives,
// for one entry and for a list read with one prefix listing; once storage holds
// a newer version, the entry's own protobuf is used instead.
func TestJSONFromStorage(t *testing.T) {
	ctx := context.Background()
	res := &Resource{Name: "pods", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	store := &countingStore{Backend: memory.New()}
	s := &Server{cfg: Config{Storage: store}, cache: newCache(store, NewRegistry(res), slog.New(slog.DiscardHandler), 0, 0)}
	var items []*entry
	var want [][]byte
	for i := range listFromStorage + 1 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "default", UID: "u",
				Labels: map[string]string{"run": "x"}},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}
		stored, err := storedBytes(res, pod)
		if err != nil {
			t.Fatal(err)
		}
		key := res.key("default", pod.Name)
		rev, err := store.Create(ctx, key, stored)
		if err != nil {
			t.Fatal(err)
		}
		pod.ResourceVersion = strconv.FormatInt(rev, 10)
		w, _ := encodeJSON(pod.DeepCopy(), res.GVK)
		e, err := newEntry(key, res, pod, stored, rev)
		if err != nil {
			t.Fatal(err)
		}
		if e.raw != nil || !e.stored {
			t.Fatalf("entry keeps JSON %v, from storage %v; want none and true", e.raw != nil, e.stored)
		}
		items, want = append(items, e), append(want, w)
		s.cache.objects[res][key] = e
	}
	if got := s.entryJSON(ctx, items[0]); !bytes.Equal(got, want[0]) {
		t.Errorf("one entry:\n%s\nwant\n%s", got, want[0])
	}
	for i, got := range s.jsonOf(ctx, res, "default", items) {
		if !bytes.Equal(got, want[i]) {
			t.Errorf("list item %d:\n%s\nwant\n%s", i, got, want[i])
		}
	}
	if store.gets != 1 || store.lists != 1 {
		t.Errorf("storage read with %d gets and %d lists, want 1 get (one entry) and 1 list (the list)", store.gets, store.lists)
	}
	// A few of many (a selector's matches) are read one by one, not with a
	// listing of every object of the kind.
	for i := range 4 * len(items) {
		s.cache.objects[res][fmt.Sprintf("/registry/pods/other/q%d", i)] = items[0]
	}
	store.gets, store.lists = 0, 0
	for i, got := range s.jsonOf(ctx, res, "", items[:listFromStorage]) {
		if !bytes.Equal(got, want[i]) {
			t.Errorf("subset item %d:\n%s\nwant\n%s", i, got, want[i])
		}
	}
	if store.gets != listFromStorage || store.lists != 0 {
		t.Errorf("a subset read with %d gets and %d lists, want %d gets", store.gets, store.lists, listFromStorage)
	}
	// A newer version in storage must not be served for the entry's revision.
	if _, err := store.Update(ctx, items[0].key, []byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p000","namespace":"default","uid":"u","labels":{"run":"changed"}}}`), items[0].rev); err != nil {
		t.Fatal(err)
	}
	if got := s.entryJSON(ctx, items[0]); !bytes.Equal(got, want[0]) {
		t.Errorf("after a newer write:\n%s\nwant\n%s", got, want[0])
	}
	if got := s.jsonOf(ctx, res, "default", items)[0]; !bytes.Equal(got, want[0]) {
		t.Errorf("list after a newer write:\n%s\nwant\n%s", got, want[0])
	}
}

// countingStore counts the reads of a storage backend.
type countingStore struct {
	storage.Backend
	gets, lists int
}

func (c *countingStore) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	c.gets++
	return c.Backend.Get(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	c.lists++
	return c.Backend.List(ctx, prefix)
}

// TestDecodeMarksStoredForm: an object loaded from storage whose stored bytes
// are today's encoding is marked so its JSON can be read back from storage; one
// stored in another form (an older version's) is not, and is served as today's.
func TestDecodeMarksStoredForm(t *testing.T) {
	res := &Resource{Name: "pods", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	c := &cache{reg: NewRegistry(res)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	today, err := storedBytes(res, pod)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.decode(storage.KeyValue{Key: res.key("default", "p"), Value: today, ModRevision: 7})
	if err != nil {
		t.Fatal(err)
	}
	if !e.stored {
		t.Error("an object stored in today's form is not marked as such")
	}
	older := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"uid":"u","name":"p","namespace":"default"},"spec":{"containers":[{"image":"i","name":"c"}]}}`)
	e, err = c.decode(storage.KeyValue{Key: res.key("default", "p"), Value: older, ModRevision: 7})
	if err != nil {
		t.Fatal(err)
	}
	if e.stored {
		t.Error("an object stored in another form is marked as stored in today's")
	}
	pod.ResourceVersion = "7"
	want, _ := encodeJSON(pod, res.GVK)
	if got := e.json(); !bytes.Equal(got, want) {
		t.Errorf("served\n%s\nwant today's form\n%s", got, want)
	}
}

// BenchmarkCacheDecode: what loading one stored pod into the cache costs at
// start-up, in today's form and in an older one.
func BenchmarkCacheDecode(b *testing.B) {
	res := &Resource{Name: "pods", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }}
	c := &cache{reg: NewRegistry(res)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u", Labels: map[string]string{"run": "kubia"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}, NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	today, err := storedBytes(res, pod)
	if err != nil {
		b.Fatal(err)
	}
	older := bytes.Replace(today, []byte(`"metadata":{"name":"p","namespace":"default","uid":"u"`), []byte(`"metadata":{"uid":"u","name":"p","namespace":"default"`), 1)
	for name, value := range map[string][]byte{"TodaysForm": today, "OlderForm": older} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(storage.KeyValue{Key: res.key("default", "p"), Value: value, ModRevision: 7}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
