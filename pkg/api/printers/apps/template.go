package apps

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The -o wide columns of a kind that stamps pods from a template.
var (
	containersColumn = metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
	imagesColumn     = metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
)

func selectorColumn(description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Selector", Type: "string", Priority: 1, Description: description}
}

// templateCells are the CONTAINERS and IMAGES cells: the template's
// containers' names and images, joined with commas.
func templateCells(t *corev1.PodTemplateSpec) (names, images string) {
	n := make([]string, 0, len(t.Spec.Containers))
	im := make([]string, 0, len(t.Spec.Containers))
	for _, c := range t.Spec.Containers {
		n, im = append(n, c.Name), append(im, c.Image)
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// desired is a workload's spec.replicas as upstream's internal types hold it:
// zero when unset (a stored object always has it, defaulted to 1).
func desired(n *int32) int64 {
	if n == nil {
		return 0
	}
	return int64(*n)
}
