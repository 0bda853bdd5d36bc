package registry

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

// TestEveryKindIsWellFormed checks what a kind's file could get wrong and no
// other test would notice until a client tripped on it: constructors of
// another type, a missing validation, a short name taken twice, a table that
// does not fit its header.
func TestEveryKindIsWellFormed(t *testing.T) {
	shortNames := map[string]string{}
	for _, r := range New(Options{}).Resources() {
		t.Run(r.GroupVersion()+"/"+r.Name, func(t *testing.T) {
			if r.Name != strings.ToLower(r.Name) || r.Singular == "" || r.Singular != strings.ToLower(r.Singular) {
				t.Errorf("names %q, %q: want lower-case plural and singular", r.Name, r.Singular)
			}
			if r.Review != nil {
				// A question to the server: created, answered, never stored or listed.
				if r.Validate == nil || r.NewList != nil || r.Columns != nil {
					t.Error("a review kind wants validation, and no list or table")
				}
				return
			}
			for obj, kind := range map[runtime.Object]string{r.New(): r.GVK.Kind, r.NewList(): r.GVK.Kind + "List"} {
				gvks, _, err := scheme.Scheme.ObjectKinds(obj)
				if err != nil || len(gvks) != 1 || gvks[0] != r.GVK.GroupVersion().WithKind(kind) {
					t.Errorf("constructor makes %T (%v, %v), want %s", obj, gvks, err, kind)
				}
			}
			if r.Validate == nil || r.ValidateUpdate == nil {
				t.Error("no validation on create or update")
			}
			for _, s := range r.ShortNames {
				if other, dup := shortNames[s]; dup {
					t.Errorf("short name %q is %s's too", s, other)
				}
				shortNames[s] = r.Name
			}
			p := printers.Printer{Columns: r.Columns, Cells: r.Cells}
			printerstest.CheckColumns(t, p)
			printerstest.CheckRows(t, p, r.New())
		})
	}
}

// TestGroupsComeWhole checks the core group comes first and each group's
// kinds together, as discovery lists them.
func TestGroupsComeWhole(t *testing.T) {
	var order []string
	for _, r := range New(Options{}).Resources() {
		if g := r.GroupVersion(); len(order) == 0 || order[len(order)-1] != g {
			order = append(order, g)
		}
	}
	if len(order) == 0 || order[0] != "v1" {
		t.Fatalf("groups in order %q: want v1 first", order)
	}
	seen := map[string]bool{}
	for _, g := range order {
		if seen[g] {
			t.Errorf("group %s comes in two runs: %q", g, order)
		}
		seen[g] = true
	}
}

// TestPackagesSayWhatTheyAreFor: every package of the registry and of the
// API packages it is built from has a doc comment saying what it is for and
// what it must not do.
func TestPackagesSayWhatTheyAreFor(t *testing.T) {
	docs := map[string]string{} // directory -> the package's doc comment
	for _, root := range []string{".", "../api"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				return err
			}
			dir := filepath.Dir(path)
			if f.Doc != nil {
				docs[dir] += f.Doc.Text()
			} else if _, ok := docs[dir]; !ok {
				docs[dir] = ""
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for dir, doc := range docs {
		switch {
		case doc == "":
			t.Errorf("package in %s has no doc comment", dir)
		case !strings.Contains(doc, "must not"):
			t.Errorf("package in %s: its doc comment does not say what it must not do", dir)
		}
	}
}
