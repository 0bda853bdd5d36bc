package scheduling

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestPriorityClass(t *testing.T) {
	p := PriorityClass()
	printerstest.ExpectColumns(t, p, []string{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"})
	printerstest.CheckRows(t, p, &schedulingv1.PriorityClass{})

	pc := &schedulingv1.PriorityClass{
		ObjectMeta: printerstest.ObjectMeta("high", 5*time.Hour), Value: 1000, GlobalDefault: true,
		PreemptionPolicy: ptr.To(corev1.PreemptNever),
	}
	printerstest.AssertCells(t, p, pc, []interface{}{"high", int64(1000), true, "5h", "Never"})
}
