package owners

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func TestIndex(t *testing.T) {
	yes := true
	pod := func(name, ns string, owner types.UID) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{
				{Kind: "Node", Name: "n", UID: "node-uid"}, // not a controller: ignored
				{Kind: "ReplicaSet", Name: "rs", UID: owner, Controller: &yes},
			}
		}
		return p
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{Index: keys})
	for _, p := range []*corev1.Pod{
		pod("a", "ns", "rs-uid"), pod("b", "ns", "rs-uid"), pod("c", "ns", "other-uid"),
		pod("d", "elsewhere", "rs-uid"), pod("e", "ns", ""), pod("f", "elsewhere", ""),
	} {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	names := func(pods []*corev1.Pod) []string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	rs := &metav1.ObjectMeta{Namespace: "ns", UID: "rs-uid"}
	if got := names(ControlledBy[*corev1.Pod](idx, rs)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("controlled by the ReplicaSet: %v, want a and b", got)
	}
	if got := names(Orphans[*corev1.Pod](idx, "ns")); !slices.Equal(got, []string{"e"}) {
		t.Errorf("orphans of ns: %v, want e", got)
	}
}
