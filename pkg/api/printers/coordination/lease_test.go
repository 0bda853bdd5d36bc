package coordination

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestLease(t *testing.T) {
	printerstest.ExpectColumns(t, Lease(), []string{"Name", "Holder", "Age"})
	printerstest.CheckRows(t, Lease(), &coordinationv1.Lease{})

	held := &coordinationv1.Lease{
		ObjectMeta: printerstest.ObjectMeta("node-1", 5*24*time.Hour),
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1")},
	}
	printerstest.AssertCells(t, Lease(), held, []interface{}{"node-1", "node-1", "5d"})
	free := &coordinationv1.Lease{ObjectMeta: printerstest.ObjectMeta("skiff-scheduler", 5*24*time.Hour)}
	printerstest.AssertCells(t, Lease(), free, []interface{}{"skiff-scheduler", "", "5d"})
}
