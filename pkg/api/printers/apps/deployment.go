package apps

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// Deployment prints NAME, READY (ready/desired), UP-TO-DATE, AVAILABLE, AGE
// and, with -o wide, the template's containers and images and the selector.
func Deployment() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		{Name: "Up-to-date", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
		{Name: "Available", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
		printers.AgeColumn(),
		containersColumn,
		imagesColumn,
		selectorColumn(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	}, func(d *appsv1.Deployment, now time.Time) []interface{} {
		names, images := templateCells(&d.Spec.Template)
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		return []interface{}{
			d.Name,
			fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, desired(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas),
			int64(d.Status.AvailableReplicas),
			printers.Age(d.ObjectMeta, now),
			names, images, selector,
		}
	})
}
