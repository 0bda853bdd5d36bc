package apps

import (
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// ControllerRevision prints NAME, CONTROLLER (kind.group/name of the owner
// that controls it, or <none>), REVISION and AGE.
func ControllerRevision() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller of the object"},
		{Name: "Revision", Type: "string", Description: appsv1.ControllerRevision{}.SwaggerDoc()["revision"]},
		printers.AgeColumn(),
	}, func(r *appsv1.ControllerRevision, now time.Time) []interface{} {
		return []interface{}{r.Name, controllerName(r), r.Revision, printers.Age(r.ObjectMeta, now)}
	})
}

// controllerName is "statefulset.apps/web" for a revision a StatefulSet web
// controls. Upstream fails the row on an owner whose apiVersion does not
// parse; a row here still shows the owner's name.
func controllerName(r *appsv1.ControllerRevision) string {
	ref := metav1.GetControllerOf(r)
	if ref == nil {
		return "<none>"
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ref.Name
	}
	gk := gv.WithKind(ref.Kind).GroupKind()
	if gk.Empty() {
		return ref.Name
	}
	return strings.ToLower(gk.String()) + "/" + ref.Name
}
