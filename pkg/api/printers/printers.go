package printers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printer renders one kind as Table columns and row cells.
type Printer struct {
	// Columns carry upstream's names ("Cluster-IP", "Nominated Node"; kubectl
	// upper-cases them), types, formats and descriptions. Priority 1 columns
	// are shown by kubectl only with -o wide.
	Columns []metav1.TableColumnDefinition
	// Cells returns one JSON-friendly value (string or int64) per column. The
	// name is in the column whose Format is "name"; that is the first column
	// for every kind except events, where upstream puts it last.
	Cells func(obj runtime.Object, now time.Time) []interface{}
}

// Default mirrors the apiserver's default table convertor, for kinds upstream
// has no printer for: the name and the creation time as an RFC 3339 date,
// which kubectl shows as CREATED AT.
func Default() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			NameColumn(),
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		},
		Cells: func(obj runtime.Object, _ time.Time) []interface{} {
			m, err := meta.Accessor(obj)
			if err != nil {
				return []interface{}{"", "<unknown>"}
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
		},
	}
}

// New binds a cell function for one concrete type. Objects of another
// type still get a row of the right width, so one bad object cannot break a
// whole Table.
func New[T any](columns []metav1.TableColumnDefinition, cells func(obj *T, now time.Time) []interface{}) Printer {
	return Printer{
		Columns: columns,
		Cells: func(obj runtime.Object, now time.Time) []interface{} {
			if o, ok := as[T](obj); ok {
				return cells(o, now)
			}
			return unknownCells(columns, obj)
		},
	}
}

// as returns obj as a *T, converting from unstructured content if need be.
func as[T any](obj runtime.Object) (*T, bool) {
	if o, ok := any(obj).(*T); ok && o != nil {
		return o, true
	}
	if u, ok := obj.(runtime.Unstructured); ok {
		o := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), o); err == nil {
			return o, true
		}
	}
	return nil, false
}

// unknownCells fills the name column and marks every other cell unknown.
func unknownCells(columns []metav1.TableColumnDefinition, obj runtime.Object) []interface{} {
	name := ""
	if m, err := meta.Accessor(obj); err == nil {
		name = m.GetName()
	}
	cells := make([]interface{}, len(columns))
	for i, c := range columns {
		if c.Format == "name" {
			cells[i] = name
		} else {
			cells[i] = "<unknown>"
		}
	}
	return cells
}

// NameColumn is the NAME column every printer has (events put it last).
func NameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
}

// AgeColumn is the AGE column. It is typed "string", not "date": upstream sends the age already
// rendered ("5m"), not a timestamp.
func AgeColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

// since renders the time elapsed from t to now as kubectl's AGE column does.
func since(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// Age is an object's AGE cell.
func Age(m metav1.ObjectMeta, now time.Time) string {
	return since(m.CreationTimestamp.Time, now)
}
