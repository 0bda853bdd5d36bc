package coordination

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

var (
	invalid    = validationtest.Invalid
	forbidden  = validationtest.Forbidden
	expectErrs = validationtest.Expect
	stored     = validationtest.Stored
)

func TestValidateLease(t *testing.T) {
	lease := func(mutate func(*coordinationv1.LeaseSpec)) *coordinationv1.Lease {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To(int32(40))},
		}
		if mutate != nil {
			mutate(&l.Spec)
		}
		return l
	}
	expectErrs(t, ValidateLease(lease(nil)))
	expectErrs(t, ValidateLease(lease(func(s *coordinationv1.LeaseSpec) {
		s.LeaseDurationSeconds = ptr.To(int32(0))
		s.LeaseTransitions = ptr.To(int32(-1))
		s.PreferredHolder = ptr.To("node-2")
	})),
		invalid("spec.leaseDurationSeconds", "must be greater than 0"),
		invalid("spec.leaseTransitions", "must be greater than or equal to 0"),
		forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))

	old := lease(nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	renewed := old.DeepCopy()
	renewed.Spec.RenewTime = ptr.To(metav1.NowMicro())
	expectErrs(t, ValidateLeaseUpdate(renewed, old))
	renewed.Name = "node-2"
	expectErrs(t, ValidateLeaseUpdate(renewed, old), invalid("metadata.name", "field is immutable"))
}
