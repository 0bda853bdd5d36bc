package apps

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// StatefulSet prints NAME, READY (ready/desired), AGE and, with -o wide, the
// template's containers and images; upstream prints no selector for it.
func StatefulSet() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		printers.AgeColumn(),
		containersColumn,
		imagesColumn,
	}, func(s *appsv1.StatefulSet, now time.Time) []interface{} {
		names, images := templateCells(&s.Spec.Template)
		return []interface{}{
			s.Name,
			fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, desired(s.Spec.Replicas)),
			printers.Age(s.ObjectMeta, now),
			names, images,
		}
	})
}
