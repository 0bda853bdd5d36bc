package patch

import (
	"context"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// stringBomb is a YAML patch that names a long string once and repeats it by
// alias: go-yaml's excessive-aliasing check counts nodes, and a thousand
// aliases of one string are only two thousand nodes, so yaml.YAMLToJSON turns
// these ~100 KB into ~100 MB of JSON (and 3 MB into hundreds of gigabytes).
func stringBomb(size, aliases int) []byte {
	return []byte("metadata:\n  annotations:\n    a: &a " + strings.Repeat("x", size) +
		"\n    b: [" + strings.Repeat("*a,", aliases) + "*a]\n")
}

// laughs is the billion laughs: nine levels of lists of nine aliases.
func laughs() []byte {
	b := "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
	prev := "a"
	for _, n := range "bcdefghi" {
		b += string(n) + ": &" + string(n) + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = string(n)
	}
	return []byte(b)
}

func TestJSONBody(t *testing.T) {
	t.Run("JSON is kept as it is", func(t *testing.T) {
		for _, body := range []string{`{"a":1}`, " \n[1]", ""} {
			got, err := JSONBody([]byte(body))
			if err != nil || string(got) != body {
				t.Errorf("%q: got %q, %v", body, got, err)
			}
		}
	})
	t.Run("YAML converts as yaml.YAMLToJSON converts it", func(t *testing.T) {
		body := []byte("metadata:\n  labels:\n    a: yes\n    n: 012\n  annotations: &x {k: v}\nspec: {nodeSelector: *x}\n")
		want, _ := yaml.YAMLToJSON(body)
		got, err := JSONBody(body)
		if err != nil || string(got) != string(want) {
			t.Errorf("got %s, %v, want %s", got, err, want)
		}
	})
	t.Run("a string repeated by alias is refused", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := JSONBody(stringBomb(100_000, 1000))
		runtime.ReadMemStats(&after)
		want := `413 RequestEntityTooLarge "Request entity too large: the YAML body's aliases expand it to more than 3145728 bytes of JSON, the limit for a request body"`
		if got := status(err); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("refusing it allocated %d MiB, want at most 16 (yaml.YAMLToJSON: ~300)", alloc>>20)
		}
	})
	t.Run("within the limit aliases expand", func(t *testing.T) {
		body := stringBomb(1000, 100)
		want, _ := yaml.YAMLToJSON(body)
		got, err := JSONBody(body)
		if err != nil || string(got) != string(want) {
			t.Errorf("got %.100s, %v", got, err)
		}
	})
	t.Run("the billion laughs stays YAML and fails as JSON", func(t *testing.T) {
		body := laughs()
		got, err := JSONBody(body)
		if err != nil || string(got) != string(body) {
			t.Fatalf("got %.100s, %v, want the body back", got, err)
		}
		_, err = Apply(context.Background(), types.MergePatchType, fuzzPod, got, &corev1.Pod{})
		if s := status(err); s != `400 BadRequest "error decoding patch: invalid JSON"` {
			t.Errorf("applied: %s", s)
		}
	})
	t.Run("YAML that does not convert is returned as it is", func(t *testing.T) {
		body := []byte("a: [\n")
		if got, err := JSONBody(body); err != nil || string(got) != string(body) {
			t.Errorf("got %q, %v", got, err)
		}
		if _, err := YAMLToJSON(body); err == nil {
			t.Errorf("YAMLToJSON converted %q", body)
		}
	})
}

// BenchmarkYAMLBomb reports what converting the alias bombs allocates, with
// yaml.YAMLToJSON as today's servePatch calls it, and with JSONBody.
func BenchmarkYAMLBomb(b *testing.B) {
	bombs := map[string][]byte{"string-100KBx1000": stringBomb(100_000, 1000), "laughs": laughs()}
	for name, body := range bombs {
		for impl, f := range map[string]func([]byte) ([]byte, error){"legacy": yaml.YAMLToJSON, "patch": JSONBody} {
			b.Run(name+"/"+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, _ = f(body)
				}
			})
		}
	}
}
