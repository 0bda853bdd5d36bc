package apps

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// ReplicaSet prints NAME, DESIRED, CURRENT, READY, AGE and, with -o wide, the
// template's containers and images and the selector.
func ReplicaSet() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Desired", Type: "integer", Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
		{Name: "Current", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
		{Name: "Ready", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
		printers.AgeColumn(),
		containersColumn,
		imagesColumn,
		selectorColumn(appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
	}, func(rs *appsv1.ReplicaSet, now time.Time) []interface{} {
		names, images := templateCells(&rs.Spec.Template)
		return []interface{}{
			rs.Name,
			desired(rs.Spec.Replicas),
			int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas),
			printers.Age(rs.ObjectMeta, now),
			names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
		}
	})
}
