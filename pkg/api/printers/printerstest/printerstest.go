// Package printerstest holds what the tests of package printers and of every
// group's printers package share: a fixed clock, object metadata of a given
// age, and the checks every printer must pass (one cell per column, of a type
// a Table carries, whatever object it is given).
//
// It is for tests only: non-test code must not import it.
package printerstest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// Now is the fixed clock every test renders ages against.
var Now = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// Ago is the time d before Now.
func Ago(d time.Duration) metav1.Time { return metav1.NewTime(Now.Add(-d)) }

// ObjectMeta names an object in "default" created age before Now.
func ObjectMeta(name string, age time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: Ago(age)}
}

// AssertCells renders obj with p and compares every cell, checking the row is
// as wide as the header.
func AssertCells(t *testing.T, p printers.Printer, obj runtime.Object, want []interface{}) {
	t.Helper()
	got := p.Cells(obj, Now)
	if len(got) != len(p.Columns) {
		t.Fatalf("%d cells for %d columns: %#v", len(got), len(p.Columns), got)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells\n got: %#v\nwant: %#v", got, want)
	}
}

// ColumnNames lists the header as kubectl gets it, with -o wide columns marked.
func ColumnNames(p printers.Printer) []string {
	var names []string
	for _, c := range p.Columns {
		n := c.Name
		if c.Priority == 1 {
			n += "*"
		}
		names = append(names, n)
	}
	return names
}

// ExpectColumns fails unless p's header is want (as ColumnNames lists it) and
// well formed: every column described and typed as a Table may type it, and
// exactly one holding the name.
func ExpectColumns(t *testing.T, p printers.Printer, want []string) {
	t.Helper()
	if got := ColumnNames(p); !reflect.DeepEqual(got, want) {
		t.Errorf("columns\n got: %q\nwant: %q", got, want)
	}
	CheckColumns(t, p)
}

// CheckColumns fails unless every column is described and typed as a Table
// may type it, and exactly one holds the name.
func CheckColumns(t *testing.T, p printers.Printer) {
	t.Helper()
	names := 0
	for _, c := range p.Columns {
		if c.Description == "" {
			t.Errorf("column %q has no description", c.Name)
		}
		switch c.Type {
		case "string", "integer", "boolean", "date":
		default:
			t.Errorf("column %q has type %q", c.Name, c.Type)
		}
		if c.Format == "name" {
			names++
		}
	}
	if names != 1 {
		t.Errorf("%d columns have format name, want 1", names)
	}
}

// CheckRows renders zero (an empty object of the printer's kind) and an
// object of another kind, and fails unless both rows match the header and
// the other kind's row still names it.
func CheckRows(t *testing.T, p printers.Printer, zero runtime.Object) {
	t.Helper()
	CheckRow(t, p, p.Cells(zero, Now))

	wrong := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "not-mine"}}
	cells := p.Cells(wrong, Now)
	CheckRow(t, p, cells)
	for i, c := range p.Columns {
		if c.Format == "name" && cells[i] != "not-mine" {
			t.Errorf("wrong-kind row: name cell %#v", cells[i])
		}
	}
}

// CheckRow fails unless cells hold one JSON-friendly value per column.
func CheckRow(t *testing.T, p printers.Printer, cells []interface{}) {
	t.Helper()
	if len(cells) != len(p.Columns) {
		t.Fatalf("%d cells for %d columns", len(cells), len(p.Columns))
	}
	for i, c := range cells {
		switch c.(type) {
		case string, int64, bool:
		default:
			t.Errorf("cell %d (%s) is %T", i, p.Columns[i].Name, c)
		}
	}
	if _, err := json.Marshal(cells); err != nil {
		t.Errorf("cells do not marshal: %v", err)
	}
}
