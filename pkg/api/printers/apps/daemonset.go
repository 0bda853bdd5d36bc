package apps

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// DaemonSet prints NAME, DESIRED, CURRENT, READY, UP-TO-DATE, AVAILABLE,
// NODE SELECTOR, AGE and, with -o wide, the template's containers and images
// and the selector.
func DaemonSet() printers.Printer {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Desired", Type: "integer", Description: status["desiredNumberScheduled"]},
		{Name: "Current", Type: "integer", Description: status["currentNumberScheduled"]},
		{Name: "Ready", Type: "integer", Description: status["numberReady"]},
		{Name: "Up-to-date", Type: "integer", Description: status["updatedNumberScheduled"]},
		{Name: "Available", Type: "integer", Description: status["numberAvailable"]},
		{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
		printers.AgeColumn(),
		containersColumn,
		imagesColumn,
		selectorColumn(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	}, func(ds *appsv1.DaemonSet, now time.Time) []interface{} {
		s := &ds.Status
		names, images := templateCells(&ds.Spec.Template)
		return []interface{}{
			ds.Name,
			int64(s.DesiredNumberScheduled),
			int64(s.CurrentNumberScheduled),
			int64(s.NumberReady),
			int64(s.UpdatedNumberScheduled),
			int64(s.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
			printers.Age(ds.ObjectMeta, now),
			names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
		}
	})
}
