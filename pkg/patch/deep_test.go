package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// nested is a value depth objects deep ({"a":{"a":...}}) around a string of
// size bytes.
func nested(depth, size int) string {
	return strings.Repeat(`{"a":`, depth) + `"` + strings.Repeat("x", size) + `"` + strings.Repeat("}", depth)
}

// deepJSONPatch adds a value depth deep and then walks to its bottom: each
// level the walk passes is parsed with all that lies below it.
func deepJSONPatch(depth, size int) []byte {
	path := "/metadata/x" + strings.Repeat("/a", depth-1) + "/b"
	return []byte(`[{"op":"add","path":"/metadata/x","value":` + nested(depth, size) + `},{"op":"add","path":"` + path + `","value":1}]`)
}

// TestDeepPatch: a 1 MB patch that makes the server parse its megabyte once
// per level of a 2000-deep value (28 s with today's applyPatch, JSON and merge
// patch alike) answers 413; one as deep as the API's objects applies as before.
func TestDeepPatch(t *testing.T) {
	deepDoc := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","x":` + nested(2000, 1) + `}}`)
	cases := []struct {
		name            string
		pt              types.PatchType
		original, patch []byte
		refused         bool
	}{
		{"JSON patch 2000 deep", types.JSONPatchType, fuzzPod, deepJSONPatch(2000, 1<<20), true},
		{"merge patch 2000 deep", types.MergePatchType, deepDoc, []byte(`{"metadata":{"x":` + nested(2000, 1<<20) + `}}`), true},
		{"JSON patch 20 deep", types.JSONPatchType, fuzzPod, deepJSONPatch(20, 1<<20), false},
		{"merge patch 20 deep", types.MergePatchType, deepDoc, []byte(`{"metadata":{"x":` + nested(20, 1<<20) + `}}`), false},
		{"merge patch 2000 deep, small", types.MergePatchType, deepDoc, []byte(`{"metadata":{"x":` + nested(2000, 10) + `}}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply(context.Background(), c.pt, c.original, c.patch, &corev1.Pod{})
			if c.refused {
				if s := status(err); !strings.HasPrefix(s, `413 RequestEntityTooLarge "Request entity too large: the `) || !strings.Contains(s, "would parse more than") {
					t.Fatalf("got %s, want 413 for parsing too much", s)
				}
				return
			}
			want, wantErr := legacyApply(c.pt, c.original, c.patch, &corev1.Pod{})
			if err != nil || wantErr != nil || string(got) != string(want) {
				t.Fatalf("got %.100s, %v; applyPatch answered %.100s, %v", got, err, want, wantErr)
			}
		})
	}
}

// BenchmarkDeepJSONPatch: today's applyPatch's time grows with the depth times
// the size; Apply stops at its parse budget.
func BenchmarkDeepJSONPatch(b *testing.B) {
	for _, depth := range []int{100, 400} {
		patch := deepJSONPatch(depth, 1<<20)
		b.Run(fmt.Sprintf("legacy/depth=%d", depth), func(b *testing.B) {
			for b.Loop() {
				_, _ = legacyApply(types.JSONPatchType, fuzzPod, patch, &corev1.Pod{})
			}
		})
		b.Run(fmt.Sprintf("patch/depth=%d", depth), func(b *testing.B) {
			for b.Loop() {
				_, _ = Apply(context.Background(), types.JSONPatchType, fuzzPod, patch, &corev1.Pod{})
			}
		})
	}
}
