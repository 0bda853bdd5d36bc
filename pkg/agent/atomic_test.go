package agent

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// TestWriteAtomic: files appear through ..data links, an update swaps the
// whole set (removed keys disappear, the old version goes), an unchanged set
// writes nothing, and modes follow the item, then the default.
func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	files := []volumeFile{
		{path: "a", data: []byte("1")},
		{path: "sub/b", data: []byte("2"), mode: ptr.To(int32(0o600))},
	}
	changed, err := writeAtomic(dir, files, ptr.To(int32(0o444)), volumeOwner{})
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if read("a") != "1" || read("sub/b") != "2" {
		t.Fatalf("contents: a=%q sub/b=%q", read("a"), read("sub/b"))
	}
	if l, _ := os.Readlink(filepath.Join(dir, "a")); l != "..data/a" {
		t.Errorf("a links to %q, want ..data/a", l)
	}
	for p, want := range map[string]os.FileMode{"a": 0o444, "sub/b": 0o600} {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), want, err)
		}
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))

	if changed, err := writeAtomic(dir, files, ptr.To(int32(0o444)), volumeOwner{}); err != nil || changed {
		t.Fatalf("same files again: changed=%v err=%v", changed, err)
	}

	changed, err = writeAtomic(dir, []volumeFile{{path: "a", data: []byte("one")}, {path: "c", data: []byte("3")}}, nil, volumeOwner{})
	if err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	if read("a") != "one" || read("c") != "3" {
		t.Errorf("after update: a=%q c=%q", read("a"), read("c"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("removed key's entry still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old version %s still there: %v", first, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != 4 || names[2] != "a" || names[3] != "c" || names[1] != dataLink {
		t.Errorf("directory holds %v", names)
	}
}

func TestWriteAtomicRefusesEscapes(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "..data", ""} {
		if _, err := writeAtomic(t.TempDir(), []volumeFile{{path: p, data: []byte("x")}}, nil, volumeOwner{}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestSubPathOf(t *testing.T) {
	env := []*runtimeapi.KeyValue{{Key: "POD", Value: []byte("web-1")}, {Key: "UP", Value: []byte("..")}, {Key: "ABS", Value: []byte("/tmp")}}
	for expr, want := range map[string]string{"$(POD)/logs": "web-1/logs", "$(UP)": "", "$(ABS)": "", "x/$(MISSING)": "x/$(MISSING)"} {
		got, err := subPathOf(&corev1.VolumeMount{Name: "v", SubPathExpr: expr}, env)
		if want == "" && err == nil {
			t.Errorf("%s: accepted as %q", expr, got)
		}
		if want != "" && (err != nil || got != want) {
			t.Errorf("%s: %q, %v; want %q", expr, got, err, want)
		}
	}
}
