package claim

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

var rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")

func pod(name, ns string, lbl string, owner types.UID) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"), Labels: map[string]string{"app": lbl}}}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicationController", Name: "o", UID: owner, Controller: &yes}}
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestClaim(t *testing.T) {
	owner := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "web-uid"}}
	deleted := metav1.Now()
	gone := owner.DeepCopy()
	gone.UID = "other-uid"
	dying := owner.DeepCopy()
	dying.DeletionTimestamp = &deleted
	candidates := []*corev1.Pod{
		pod("mine", "ns", "web", "web-uid"),
		pod("stray", "ns", "db", "web-uid"), // ours, no longer matching: released
		pod("orphan", "ns", "web", ""),      // adopted
		pod("orphan-db", "ns", "db", ""),    // not wanted
		pod("theirs", "ns", "web", "x-uid"), // someone else's
		pod("elsewhere", "other", "web", ""),
	}
	for _, tc := range []struct {
		name                string
		owner, live         *corev1.ReplicationController
		wantClaimed         []string
		wantPatched         []string
		wantErr, finalizers bool
	}{
		{name: "adopts and releases", owner: owner, live: owner,
			wantClaimed: []string{"mine", "orphan"}, wantPatched: []string{"stray", "orphan"}},
		{name: "owner replaced: adopts nothing", owner: owner, live: gone,
			wantClaimed: []string{"mine"}, wantPatched: []string{"stray"}, wantErr: true},
		{name: "owner being deleted live: adopts nothing", owner: owner, live: dying,
			wantClaimed: []string{"mine"}, wantPatched: []string{"stray"}, wantErr: true},
		{name: "owner being deleted in the cache: neither", owner: dying, live: dying,
			wantClaimed: []string{"mine"}},
		{name: "finalizers", owner: owner, live: owner, finalizers: true,
			wantClaimed: []string{"mine", "orphan"}, wantPatched: []string{"stray", "orphan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var patched []string
			patches := map[string]map[string]any{}
			c := Claimer[*corev1.Pod]{
				Owner: tc.owner,
				Kind:  rcKind,
				Wants: func(p *corev1.Pod) bool {
					return labels.SelectorFromSet(labels.Set{"app": "web"}).Matches(labels.Set(p.Labels))
				},
				Get: func(context.Context) (metav1.Object, error) { return tc.live, nil },
				Patch: func(_ context.Context, p *corev1.Pod, data []byte) error {
					patched = append(patched, p.Name)
					var m map[string]any
					if err := json.Unmarshal(data, &m); err != nil {
						return err
					}
					patches[p.Name] = m["metadata"].(map[string]any)
					return nil
				},
			}
			if tc.finalizers {
				c.Finalizers = []string{"f"}
			}
			claimed, err := c.Claim(context.Background(), candidates[:3], candidates[3:])
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if got := names(claimed); !slices.Equal(got, tc.wantClaimed) {
				t.Errorf("claimed %v, want %v", got, tc.wantClaimed)
			}
			if !slices.Equal(patched, tc.wantPatched) {
				t.Errorf("patched %v, want %v", patched, tc.wantPatched)
			}
			if m := patches["orphan"]; m != nil {
				ref := m["ownerReferences"].([]any)[0].(map[string]any)
				if m["uid"] != "orphan-uid" || ref["uid"] != "web-uid" || ref["kind"] != "ReplicationController" || ref["controller"] != true {
					t.Errorf("adoption patch %v", m)
				}
				if _, ok := m["finalizers"]; ok != tc.finalizers {
					t.Errorf("adoption patch %v: finalizers %v, want %v", m, ok, tc.finalizers)
				}
			}
			if m := patches["stray"]; m != nil {
				ref := m["ownerReferences"].([]any)[0].(map[string]any)
				if m["uid"] != "stray-uid" || ref["$patch"] != "delete" || ref["uid"] != "web-uid" {
					t.Errorf("release patch %v", m)
				}
				if _, ok := m["$deleteFromPrimitiveList/finalizers"]; ok != tc.finalizers {
					t.Errorf("release patch %v: finalizers %v, want %v", m, ok, tc.finalizers)
				}
			}
		})
	}
}

// The live read happens once, however many orphans there are, and its error
// is reported once.
func TestClaimReadsTheOwnerOnce(t *testing.T) {
	owner := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "web-uid"}}
	gets := 0
	c := Claimer[*corev1.Pod]{
		Owner: owner,
		Kind:  rcKind,
		Wants: func(*corev1.Pod) bool { return true },
		Get: func(context.Context) (metav1.Object, error) {
			gets++
			return nil, errors.New("unavailable")
		},
		Patch: func(context.Context, *corev1.Pod, []byte) error { t.Fatal("patched"); return nil },
	}
	_, err := c.Claim(context.Background(), []*corev1.Pod{pod("a", "ns", "web", ""), pod("b", "ns", "web", "")})
	if gets != 1 || err == nil {
		t.Fatalf("gets %d, err %v", gets, err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
		t.Errorf("%d errors, want 1: %v", n, err)
	}
}
