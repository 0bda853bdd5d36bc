package rbac

import (
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var metadataPath = field.NewPath("metadata")

// ValidateRBACName is the name rule of every kind of the group, and of the
// role a binding refers to: only what a URL path segment cannot hold ("",
// ".", "..", "/" and "%") is refused, as OpenShift did before.
var ValidateRBACName validation.NameFunc = func(name string, _ bool) []string {
	return content.IsPathSegmentName(name)
}

// faults are a kind's errors in the two lists upstream reports them in.
type faults struct {
	// handwritten are upstream's hand-written validation's, in its order.
	handwritten field.ErrorList
	// declared are the faults upstream's declarative validation reports
	// instead: they come after all the others, in the order of the fields
	// of the v1 type.
	declared field.ErrorList
}

// required reports fldPath empty: in the declarative words when the
// declarative validation looks at the field, in the hand-written detail
// otherwise.
func (f *faults) required(fldPath *field.Path, detail string, declarative bool) {
	if declarative {
		f.declared = append(f.declared, field.Required(fldPath, ""))
		return
	}
	f.handwritten = append(f.handwritten, field.Required(fldPath, detail))
}

func (f *faults) add(errs ...*field.Error) { f.handwritten = append(f.handwritten, errs...) }

func (f *faults) merge(g faults) {
	f.handwritten = append(f.handwritten, g.handwritten...)
	f.declared = append(f.declared, g.declared...)
}

// list is what the API server answers.
func (f *faults) list() field.ErrorList {
	return append(f.handwritten, f.declared...)
}
