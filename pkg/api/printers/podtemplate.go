package printers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodTemplate prints NAME, CONTAINERS, IMAGES and POD LABELS, all of them
// without -o wide too, and no AGE: upstream's columns for pod templates.
func PodTemplate() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Containers", Type: "string", Description: "Names of each container in the template."},
		{Name: "Images", Type: "string", Description: "Images referenced by each container in the template."},
		{Name: "Pod Labels", Type: "string", Description: "The labels for the pod template."},
	}, func(t *corev1.PodTemplate, _ time.Time) []interface{} {
		names, images := containerCells(t.Template.Spec.Containers)
		return []interface{}{t.Name, names, images, labels.FormatLabels(t.Template.Labels)}
	})
}
