package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

// e is one expected error: validationtest.Err declared in this package, so
// that its tests may write one unkeyed.
type e struct {
	Type   field.ErrorType
	Field  string
	Detail string
}

func required(path string) e             { return e(validationtest.Required(path)) }
func invalid(path, detail string) e      { return e(validationtest.Invalid(path, detail)) }
func notSupported(path, detail string) e { return e(validationtest.NotSupported(path, detail)) }
func forbidden(path, detail string) e    { return e(validationtest.Forbidden(path, detail)) }
func duplicate(path string) e            { return e(validationtest.Duplicate(path)) }
func notFound(path string) e             { return e(validationtest.NotFound(path)) }
func tooLong(path string) e              { return e(validationtest.TooLong(path)) }

// expectErrs fails unless got holds exactly the wanted errors, in any order.
func expectErrs(t *testing.T, got field.ErrorList, want ...e) {
	t.Helper()
	errs := make([]validationtest.Err, len(want))
	for i, w := range want {
		errs[i] = validationtest.Err(w)
	}
	validationtest.Expect(t, got, errs...)
}

var (
	expectMessage = validationtest.ExpectMessage
	stored        = validationtest.Stored
)

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
