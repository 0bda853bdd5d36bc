package validation

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// e is one expected error: its type, its field path and, when not empty, a
// piece of its detail.
type e struct {
	typ    field.ErrorType
	field  string
	detail string
}

func required(path string) e             { return e{field.ErrorTypeRequired, path, ""} }
func invalid(path, detail string) e      { return e{field.ErrorTypeInvalid, path, detail} }
func notSupported(path, detail string) e { return e{field.ErrorTypeNotSupported, path, detail} }
func forbidden(path, detail string) e    { return e{field.ErrorTypeForbidden, path, detail} }
func duplicate(path string) e            { return e{field.ErrorTypeDuplicate, path, ""} }
func notFound(path string) e             { return e{field.ErrorTypeNotFound, path, ""} }
func tooLong(path string) e              { return e{field.ErrorTypeTooLong, path, ""} }

// expectErrs fails unless got holds exactly the wanted errors, in any order.
func expectErrs(t *testing.T, got field.ErrorList, want ...e) {
	t.Helper()
	used := make([]bool, len(got))
	var missing []string
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && g.Type == w.typ && g.Field == w.field && strings.Contains(g.Detail, w.detail) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s %s %q", w.field, w.typ, w.detail))
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

// expectMessage fails unless got is exactly one error that prints as msg,
// which is what kubectl shows after "The Pod "x" is invalid: ".
func expectMessage(t *testing.T, got field.ErrorList, msg string) {
	t.Helper()
	if len(got) != 1 || got[0].Error() != msg {
		t.Errorf("got %v\nwant exactly: %s", got, msg)
	}
}

// validPod is a pod as the API server would validate it after defaulting.
func validPod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}},
		},
	}
	defaults.Pod(p, defaults.PodOptions{})
	return p
}

// stored returns a copy of obj's metadata as storage hands it back.
func stored(m metav1.ObjectMeta) metav1.ObjectMeta {
	m.ResourceVersion = "7"
	m.UID = "6d8e1a9c-0000-4000-8000-000000000001"
	return m
}
