package rbac

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackagesSayWhatTheyAreFor: this package and those under it each have
// a doc comment saying what they are for and what they must not do.
func TestPackagesSayWhatTheyAreFor(t *testing.T) {
	docs := map[string]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" { // a generator, built by hand only
			return nil
		}
		dir := filepath.Dir(path)
		docs[dir] += ""
		if f.Doc != nil {
			docs[dir] += f.Doc.Text()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 2 {
		t.Errorf("found only %v", docs)
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
