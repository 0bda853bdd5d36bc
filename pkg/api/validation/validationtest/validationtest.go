// Package validationtest holds what the tests of package validation and of
// every group's validation package share: expected errors given by type,
// field path and a piece of detail, a check that a list holds exactly those,
// and stored metadata for update tests.
//
// It is for tests only: non-test code must not import it.
package validationtest

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Err is one expected error: its type, its field path and, when not empty, a
// piece of its detail.
type Err struct {
	Type   field.ErrorType
	Field  string
	Detail string
}

// The expected errors of each type.
func Required(path string) Err             { return Err{field.ErrorTypeRequired, path, ""} }
func Invalid(path, detail string) Err      { return Err{field.ErrorTypeInvalid, path, detail} }
func NotSupported(path, detail string) Err { return Err{field.ErrorTypeNotSupported, path, detail} }
func Forbidden(path, detail string) Err    { return Err{field.ErrorTypeForbidden, path, detail} }
func Duplicate(path string) Err            { return Err{field.ErrorTypeDuplicate, path, ""} }
func NotFound(path string) Err             { return Err{field.ErrorTypeNotFound, path, ""} }
func TooLong(path string) Err              { return Err{field.ErrorTypeTooLong, path, ""} }

// Expect fails unless got holds exactly the wanted errors, in any order.
func Expect(t *testing.T, got field.ErrorList, want ...Err) {
	t.Helper()
	used := make([]bool, len(got))
	var missing []string
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && g.Type == w.Type && g.Field == w.Field && strings.Contains(g.Detail, w.Detail) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s %s %q", w.Field, w.Type, w.Detail))
		}
	}
	var extra []string
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g.Error())
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("errors differ\nmissing:\n  %s\nunexpected:\n  %s", strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
	}
}

// ExpectMessage fails unless got is exactly one error that prints as msg,
// which is what kubectl shows after `The Pod "x" is invalid: `.
func ExpectMessage(t *testing.T, got field.ErrorList, msg string) {
	t.Helper()
	if len(got) != 1 || got[0].Error() != msg {
		t.Errorf("got %v\nwant exactly: %s", got, msg)
	}
}

// Stored returns a copy of m as storage hands it back.
func Stored(m metav1.ObjectMeta) metav1.ObjectMeta {
	m.ResourceVersion = "7"
	m.UID = "6d8e1a9c-0000-4000-8000-000000000001"
	return m
}
