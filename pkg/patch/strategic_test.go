package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// items is n JSON list elements made by f, comma-separated.
func items(n int, f func(i int) string) string {
	s := make([]string, n)
	for i := range s {
		s[i] = f(i)
	}
	return strings.Join(s, ",")
}

func containers(n int, extra string) string {
	return items(n, func(i int) string { return fmt.Sprintf(`{"name":"c%d"%s}`, i, extra) })
}

func podWith(spec, meta string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"` + meta + `},"spec":{` + spec + `}}`)
}

// TestStrategicMergeBound: a strategic merge patch whose lists are too long to
// merge in bounded time answers 413 before merging, whether the length is in
// the patch, in the live object or in a directive; one within the bound, or
// whose lists are replaced rather than merged, applies as it always has.
func TestStrategicMergeBound(t *testing.T) {
	oneContainer := podWith(`"containers":[{"name":"c","image":"i"}]`, "")
	env := func(n int) string {
		return `"env":[` + items(n, func(i int) string { return fmt.Sprintf(`{"name":"E%d","value":"v"}`, i) }) + `]`
	}
	manyEnv := podWith(`"containers":[`+items(30, func(i int) string { return fmt.Sprintf(`{"name":"c%d",%s}`, i, env(1000)) })+`]`, "")
	cases := []struct {
		name            string
		original, patch []byte
		refused         bool
	}{
		{"8000 containers merged into one", oneContainer, []byte(`{"spec":{"containers":[` + containers(8000, `,"image":"i"`) + `]}}`), true},
		{"one container patched into 5000", podWith(`"containers":[`+containers(5000, `,"image":"i"`)+`]`, ""),
			[]byte(`{"spec":{"containers":[{"name":"c1","image":"j"}]}}`), true},
		{"5000 containers and their element order where there were none", podWith(`"nodeName":"n"`, ""),
			[]byte(`{"spec":{"$setElementOrder/containers":[` + containers(5000, "") + `],"containers":[` + containers(5000, `,"image":"i"`) + `]}}`), true},
		{"5000 finalizers merged", podWith(`"containers":[]`, `,"finalizers":["f"]`),
			[]byte(`{"metadata":{"finalizers":[` + items(5000, func(i int) string { return fmt.Sprintf(`"f%d"`, i) }) + `]}}`), true},
		{"30 containers of 1000 env merged with 1000 more each", manyEnv,
			[]byte(`{"spec":{"containers":[` + items(30, func(i int) string { return fmt.Sprintf(`{"name":"c%d",%s}`, i, env(1000)) }) + `]}}`), true},
		{"2000 containers merged into one", oneContainer, []byte(`{"spec":{"containers":[` + containers(2000, `,"image":"i"`) + `]}}`), false},
		{"30 containers of 1000 env, one env changed in one", manyEnv,
			[]byte(`{"spec":{"containers":[{"name":"c7","env":[{"name":"E3","value":"w"}]}]}}`), false},
		{"an element order of 5000 naming containers that are not there", oneContainer,
			[]byte(`{"spec":{"$setElementOrder/containers":[` + containers(5000, "") + `]}}`), false},
		{"20000 containers where there were none", podWith(`"nodeName":"n"`, ""), []byte(`{"spec":{"containers":[` + containers(20000, `,"image":"i"`) + `]}}`), false},
		{"20000 tolerations replace the live ones", podWith(`"tolerations":[{"key":"k"}]`, ""),
			[]byte(`{"spec":{"tolerations":[` + items(20000, func(i int) string { return fmt.Sprintf(`{"key":"k%d"}`, i) }) + `]}}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply(context.Background(), types.StrategicMergePatchType, c.original, c.patch, &corev1.Pod{})
			if c.refused {
				if s := status(err); !strings.HasPrefix(s, `413 RequestEntityTooLarge "Request entity too large: The allowed maximum length of the lists a strategic merge patch merges is 4096`) {
					t.Fatalf("got %s, want 413 for merging too long lists", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v", err)
			}
			want, err := legacyApply(types.StrategicMergePatchType, c.original, c.patch, &corev1.Pod{})
			if err != nil || string(got) != string(want) {
				t.Fatalf("got %.200s, applyPatch answered %.200s, %v", got, want, err)
			}
		})
	}
}

// BenchmarkStrategicMergeLongList is the merge of n containers into a pod with
// one: the work grows with n squared, so the bound (4096) holds it to about a
// second. legacy runs it unbounded (without the cost check).
func BenchmarkStrategicMergeLongList(b *testing.B) {
	original := podWith(`"containers":[{"name":"c","image":"i"}]`, "")
	for _, n := range []int{1000, 2000, 4000, 8000} {
		patch := []byte(`{"spec":{"containers":[` + containers(n, `,"image":"i"`) + `]}}`)
		b.Run(fmt.Sprintf("legacy/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				_, _ = legacyApply(types.StrategicMergePatchType, original, patch, &corev1.Pod{})
			}
		})
		b.Run(fmt.Sprintf("patch/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				_, _ = Apply(context.Background(), types.StrategicMergePatchType, original, patch, &corev1.Pod{})
			}
		})
	}
}
