package policy

import (
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestPodDisruptionBudget(t *testing.T) {
	printerstest.ExpectColumns(t, PodDisruptionBudget(), []string{"Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"})
	printerstest.CheckRows(t, PodDisruptionBudget(), &policyv1.PodDisruptionBudget{})

	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: printerstest.ObjectMeta("web", 2*time.Minute),
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1))},
	}
	printerstest.AssertCells(t, PodDisruptionBudget(), pdb, []interface{}{"web", "1", "N/A", int64(0), "2m"})
	pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable = nil, ptr.To(intstr.FromString("25%"))
	pdb.Status.DisruptionsAllowed = 2
	printerstest.AssertCells(t, PodDisruptionBudget(), pdb, []interface{}{"web", "N/A", "25%", int64(2), "2m"})
}
