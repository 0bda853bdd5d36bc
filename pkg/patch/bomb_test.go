package patch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// nodeLease is what a node may patch: its own Lease.
var nodeLease = []byte(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},` +
	`"spec":{"holderIdentity":"n1","leaseDurationSeconds":40}}`)

// copyBomb is issue 14's patch: a 1000-byte annotation map, then copies that
// each put the whole map into itself, doubling it.
func copyBomb(copies int) []byte {
	var b strings.Builder
	b.WriteString(`[{"op":"add","path":"/metadata/annotations","value":{"a":"` + strings.Repeat("x", 1000) + `"}}`)
	for i := range copies {
		fmt.Fprintf(&b, `,{"op":"copy","from":"/metadata/annotations","path":"/metadata/annotations/b%d"}`, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// TestCopyBomb: the doubling copies are refused as upstream refuses them (422
// Invalid, with upstream's message, which keeps none of the library's), having
// allocated a few megabytes: today's applyPatch needs ~256 MiB for 18 copies
// and ~4 GiB for 22, and the issue saw 2.7 GiB in 40 s.
func TestCopyBomb(t *testing.T) {
	for _, copies := range []int{18, 22} {
		t.Run(strconv.Itoa(copies), func(t *testing.T) {
			body := copyBomb(copies)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Apply(context.Background(), types.JSONPatchType, nodeLease, body, &coordinationv1.Lease{})
			runtime.ReadMemStats(&after)
			want := `422 Invalid "the server rejected our request due to an error in our request"`
			if got := status(err); got != want {
				t.Fatalf("a %d-byte patch of %d copies: got %s, want %s", len(body), copies, got, want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("refusing %d copies allocated %d MiB, want at most 64", copies, alloc>>20)
			}
			// What the library answered under the 422: the copy limit.
			ops, _ := jsonpatch.DecodePatch(body)
			_, err = ops.Apply(nodeLease)
			var tooMuch *jsonpatch.AccumulatedCopySizeError
			if !errors.As(err, &tooMuch) {
				t.Fatalf("the library answered %v, want the accumulated copy size error", err)
			}
		})
	}
}

// TestCopyLimit: copies up to MaxCopyBytes in all apply, the one that passes it
// fails, and the count is the copies' compact JSON, as v4 counts it.
func TestCopyLimit(t *testing.T) {
	value := strings.Repeat("x", 1<<20-2) // 1 MiB once quoted
	patch := func(copies int) []byte {
		ops := []string{`{"op":"add","path":"/metadata/annotations","value":{"v":"` + value + `"}}`}
		for i := range copies {
			ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"/metadata/annotations/v","path":"/metadata/labels/c%d"}`, i))
		}
		return []byte("[" + strings.Join(ops, ",") + "]")
	}
	doc := []byte(`{"metadata":{"labels":{}}}`)
	if _, err := Apply(context.Background(), types.JSONPatchType, doc, patch(3), &coordinationv1.Lease{}); err != nil {
		t.Fatalf("3 MiB of copies: %v", err)
	}
	if _, err := Apply(context.Background(), types.JSONPatchType, doc, patch(4), &coordinationv1.Lease{}); !apierrors.IsInvalid(err) {
		t.Fatalf("4 MiB of copies: %v, want 422", err)
	}
	ops, _ := jsonpatch.DecodePatch(patch(4))
	_, err := ops.Apply(doc)
	want := fmt.Sprintf("Unable to complete the copy, the accumulated size increase of copy is %d, exceeding the limit %d", 4<<20, MaxCopyBytes)
	if err == nil || err.Error() != want {
		t.Fatalf("4 MiB of copies: got %v, want %q", err, want)
	}
}

// TestCancelledPatch: a patch whose context ends is abandoned with upstream's
// answer to a request that timed out, 504, without waiting for the library
// to finish.
func TestCancelledPatch(t *testing.T) {
	// About as much work as the parse budget allows: a 1 MB value walked 50
	// levels deep, half a second or more.
	body := deepJSONPatch(50, 1<<20)
	if _, err := Apply(context.Background(), types.JSONPatchType, fuzzPod, body, &coordinationv1.Lease{}); err != nil {
		t.Fatalf("the patch is within the bounds: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Apply(ctx, types.JSONPatchType, fuzzPod, body, &coordinationv1.Lease{})
	want := `504 Timeout "Timeout: request did not complete within requested timeout - context deadline exceeded"`
	if got := status(err); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the patch answered %v after its context ended, want at once", took)
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, pt := range patchTypes {
		if _, err := Apply(cancelled, pt, nodeLease, []byte(`{}`), &coordinationv1.Lease{}); !apierrors.IsTimeout(err) {
			t.Errorf("%s with a cancelled context: got %v, want a timeout", pt, err)
		}
	}
}

// bombEnv names the bomb a child test process runs (impl:copies); see
// BenchmarkCopyBombRSS.
const bombEnv = "SKIFF_PATCH_BOMB"

// TestBombChild runs one copy bomb when a benchmark starts this test binary to
// measure its peak RSS; otherwise it is skipped.
func TestBombChild(t *testing.T) {
	spec := os.Getenv(bombEnv)
	if spec == "" {
		t.Skip("run by BenchmarkCopyBombRSS only")
	}
	impl, n, _ := strings.Cut(spec, ":")
	copies, _ := strconv.Atoi(n)
	if copies == 0 {
		return // the baseline: the test binary alone
	}
	body := copyBomb(copies)
	lease := &coordinationv1.Lease{}
	if impl == "legacy" {
		_, _ = legacyApply(types.JSONPatchType, nodeLease, body, lease)
	} else {
		_, _ = Apply(context.Background(), types.JSONPatchType, nodeLease, body, lease)
	}
}

// BenchmarkCopyBombRSS measures the peak RSS of a process that applies the copy
// bomb with today's applyPatch (legacy; 14 to 16 copies, each doubling it: 18
// would take gigabytes) and with Apply. Run with -benchtime=1x.
func BenchmarkCopyBombRSS(b *testing.B) {
	cases := []struct {
		impl   string
		copies int
	}{{"none", 0}, {"legacy", 14}, {"legacy", 15}, {"legacy", 16}, {"patch", 14}, {"patch", 16}, {"patch", 18}, {"patch", 22}}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/copies=%d", c.impl, c.copies), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestBombChild$")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", bombEnv, c.impl, c.copies))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				b.ReportMetric(float64(ru.Maxrss)/1024, "MiB-peak-RSS")
			}
		})
	}
}

// BenchmarkCopyBomb reports what one bomb allocates in this process.
func BenchmarkCopyBomb(b *testing.B) {
	for _, impl := range []string{"legacy", "patch"} {
		for _, copies := range []int{14, 16, 18, 22} {
			if impl == "legacy" && copies > 16 {
				continue
			}
			b.Run(fmt.Sprintf("%s/copies=%d", impl, copies), func(b *testing.B) {
				body := copyBomb(copies)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for b.Loop() {
					if impl == "legacy" {
						_, _ = legacyApply(types.JSONPatchType, nodeLease, body, &coordinationv1.Lease{})
					} else {
						_, _ = Apply(context.Background(), types.JSONPatchType, nodeLease, body, &coordinationv1.Lease{})
					}
				}
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/op")
			})
		}
	}
}
