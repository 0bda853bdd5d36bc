package scheduling

import (
	"time"

	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// PriorityClass prints NAME, VALUE, GLOBAL-DEFAULT, AGE and PREEMPTIONPOLICY.
// Upstream fills the last only for wide output but does not mark it so, and
// the API server always asks for wide rows, so kubectl shows all five.
func PriorityClass() printers.Printer {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Value", Type: "integer", Description: doc["value"]},
		{Name: "Global-Default", Type: "boolean", Description: doc["globalDefault"]},
		printers.AgeColumn(),
		{Name: "PreemptionPolicy", Type: "string", Description: doc["preemptionPolicy"]},
	}, func(pc *schedulingv1.PriorityClass, now time.Time) []interface{} {
		policy := ""
		if pc.PreemptionPolicy != nil {
			policy = string(*pc.PreemptionPolicy)
		}
		return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, printers.Age(pc.ObjectMeta, now), policy}
	})
}
