package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/apps"
	validation "github.com/skiffhq/skiff/pkg/api/validation/apps"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(controllerRevisions) }

// controllerRevisions are the recorded states DaemonSets and StatefulSets
// roll between. Not a workload: no short name, not in `all`, no status, no
// generation.
func controllerRevisions(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ControllerRevision"), "controllerrevisions", "controllerrevision", true,
		func() runtime.Object { return &appsv1.ControllerRevision{} },
		func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		printers.ControllerRevision())
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateControllerRevision(obj.(*appsv1.ControllerRevision))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateControllerRevisionUpdate(obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision))
	}
	return r
}
