package policy

import (
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// PodDisruptionBudget prints NAME, MIN AVAILABLE, MAX UNAVAILABLE (N/A for
// the one not set), ALLOWED DISRUPTIONS and AGE.
func PodDisruptionBudget() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Min Available", Type: "string", Description: "The minimum number of pods that must be available."},
		{Name: "Max Unavailable", Type: "string", Description: "The maximum number of pods that may be unavailable."},
		{Name: "Allowed Disruptions", Type: "integer", Description: "Calculated number of pods that may be disrupted at this time."},
		printers.AgeColumn(),
	}, func(pdb *policyv1.PodDisruptionBudget, now time.Time) []interface{} {
		return []interface{}{
			pdb.Name, orNA(pdb.Spec.MinAvailable), orNA(pdb.Spec.MaxUnavailable),
			int64(pdb.Status.DisruptionsAllowed), printers.Age(pdb.ObjectMeta, now),
		}
	})
}

func orNA(v *intstr.IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}
