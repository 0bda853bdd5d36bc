package history

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

var stsKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

func parent(name string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid")}}
}

func raw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func TestHash(t *testing.T) {
	a := &appsv1.ControllerRevision{Data: raw(`{"spec":1}`)}
	b := &appsv1.ControllerRevision{Data: raw(`{"spec":2}`)}
	if Hash(a, nil) != Hash(a.DeepCopy(), nil) {
		t.Error("hash is not deterministic")
	}
	if Hash(a, nil) == Hash(b, nil) {
		t.Error("different data hashed alike")
	}
	zero, one := int32(0), int32(1)
	if Hash(a, &zero) == Hash(a, &one) || Hash(a, nil) == Hash(a, &zero) {
		t.Error("the probe does not change the hash")
	}
	obj := &appsv1.ControllerRevision{Data: runtime.RawExtension{Object: &appsv1.StatefulSet{}}}
	if Hash(obj, nil) == Hash(&appsv1.ControllerRevision{}, nil) {
		t.Error("Data.Object is not hashed")
	}
	// FNV-1 as upstream, not FNV-1a: fnv1_32("a") = 0x050c5d7e = 84696446.
	if got, want := Hash(&appsv1.ControllerRevision{Data: raw("a")}, nil), rand.SafeEncodeString("84696446"); got != want {
		t.Errorf("Hash(a) = %q, want %q", got, want)
	}
}

func TestNew(t *testing.T) {
	p := parent("web")
	cc := int32(2)
	rev, err := New(p, stsKind, map[string]string{"app": "web"}, raw(`{"a":1}`), 3, &cc)
	if err != nil {
		t.Fatal(err)
	}
	hash := Hash(rev, &cc)
	if rev.Name != "web-"+hash || rev.Labels[HashLabel] != hash || rev.Labels["app"] != "web" {
		t.Errorf("name %q labels %v, want web-%s", rev.Name, rev.Labels, hash)
	}
	if rev.Revision != 3 || rev.Namespace != "ns" {
		t.Errorf("revision %d namespace %q", rev.Revision, rev.Namespace)
	}
	ref := metav1.GetControllerOf(rev)
	if ref == nil || ref.UID != p.UID || ref.Kind != "StatefulSet" || ref.APIVersion != "apps/v1" {
		t.Errorf("controller ref %+v", ref)
	}
	long := parent(strings.Repeat("x", 250))
	rev, _ = New(long, stsKind, nil, raw(`{}`), 1, nil)
	if len(rev.Name) > 253 {
		t.Errorf("name is %d characters long", len(rev.Name))
	}
}

func TestEqualFindSort(t *testing.T) {
	at := func(sec int) metav1.Time { return metav1.NewTime(time.Unix(int64(sec), 0)) }
	mk := func(name string, revision int64, created int, data string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: at(created)},
			Revision: revision, Data: raw(data)}
	}
	a, b, c, d := mk("a", 2, 5, `1`), mk("b", 1, 9, `2`), mk("c", 2, 1, `1`), mk("d", 2, 1, `3`)
	if !Equal(a, c) || Equal(a, b) || !Equal(nil, nil) || Equal(a, nil) {
		t.Error("Equal is wrong")
	}
	revs := []*appsv1.ControllerRevision{a, b, c, d}
	if got := FindEqual(revs, mk("x", 0, 0, `1`)); len(got) != 2 || got[0] != a || got[1] != c {
		t.Errorf("FindEqual = %v", got)
	}
	Sort(revs)
	var names []string
	for _, r := range revs {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "b,c,d,a" {
		t.Errorf("Sort = %s, want b,c,d,a", got)
	}
}

func newClient(t *testing.T, objs ...runtime.Object) (*Client, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(cs, 0)
	lister := f.Apps().V1().ControllerRevisions().Lister()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return NewClient(cs, lister), cs
}

func TestClientCreateCollision(t *testing.T) {
	ctx := context.Background()
	p := parent("web")
	var cc int32
	want, _ := New(p, stsKind, nil, raw(`{"a":1}`), 1, &cc)
	// Another revision squats on the name with different data.
	squatter := want.DeepCopy()
	squatter.Data = raw(`{"other":true}`)
	c, cs := newClient(t, squatter)

	got, err := c.Create(ctx, p, want, &cc)
	if err != nil {
		t.Fatal(err)
	}
	if cc != 1 || got.Name == squatter.Name || got.Name != "web-"+Hash(want, &cc) {
		t.Errorf("created %q with collisionCount %d", got.Name, cc)
	}
	// Same data again: the existing one comes back, no new collision.
	again, err := c.Create(ctx, p, want, &cc)
	if err != nil || again.Name != got.Name || cc != 1 {
		t.Errorf("re-create = %v, %v (cc %d)", again, err, cc)
	}
	list, _ := cs.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 2 {
		t.Errorf("%d revisions stored, want 2", len(list.Items))
	}
	if _, err := c.Create(ctx, p, want, nil); err == nil {
		t.Error("nil collisionCount accepted")
	}
}

func TestClientListUpdateDeleteAdoptRelease(t *testing.T) {
	ctx := context.Background()
	p, other := parent("web"), parent("db")
	mine, _ := New(p, stsKind, map[string]string{"app": "web"}, raw(`1`), 1, nil)
	theirs, _ := New(other, stsKind, map[string]string{"app": "web"}, raw(`2`), 1, nil)
	orphan, _ := New(p, stsKind, map[string]string{"app": "web"}, raw(`3`), 1, nil)
	orphan.OwnerReferences = nil
	orphan.UID = "orphan-uid"
	c, cs := newClient(t, mine, theirs, orphan)

	got, err := c.List(p, labels.SelectorFromSet(labels.Set{"app": "web"}))
	if err != nil || len(got) != 2 {
		t.Fatalf("List = %d revisions, %v; want mine and the orphan", len(got), err)
	}

	up, err := c.UpdateRevision(ctx, mine, 7)
	if err != nil || up.Revision != 7 {
		t.Fatalf("UpdateRevision = %v, %v", up, err)
	}

	adopted, err := c.Adopt(ctx, p, stsKind, orphan)
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != p.UID {
		t.Errorf("adopted revision's controller = %+v", ref)
	}
	if _, err := c.Adopt(ctx, p, stsKind, adopted); err == nil {
		t.Error("adopting an owned revision succeeded")
	}

	released, err := c.Release(ctx, p, adopted)
	if err != nil || released == nil || metav1.GetControllerOf(released) != nil {
		t.Errorf("Release = %v, %v", released, err)
	}

	if err := c.Delete(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().ControllerRevisions("ns").Get(ctx, mine.Name, metav1.GetOptions{}); err == nil {
		t.Error("deleted revision still there")
	}
	if r, err := c.Release(ctx, p, mine); r != nil || err != nil {
		t.Errorf("releasing a deleted revision = %v, %v", r, err)
	}
}
