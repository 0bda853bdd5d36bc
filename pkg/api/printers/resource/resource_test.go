package resource

import (
	"testing"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestColumns(t *testing.T) {
	for _, tt := range []struct {
		name    string
		p       printers.Printer
		zero    runtime.Object
		columns []string
	}{
		{"DeviceClass", DeviceClass(), &resourcev1.DeviceClass{}, []string{"Name", "Age"}},
		{"ResourceClaimTemplate", ResourceClaimTemplate(), &resourcev1.ResourceClaimTemplate{}, []string{"Name", "Age"}},
		{"ResourceClaim", ResourceClaim(), &resourcev1.ResourceClaim{}, []string{"Name", "State", "Age"}},
		{"ResourceSlice", ResourceSlice(), &resourcev1.ResourceSlice{}, []string{"Name", "Node", "Driver", "Pool", "Age"}},
		{"DeviceTaintRule", DeviceTaintRule(), &resourcev1.DeviceTaintRule{}, []string{"Name", "Key", "Value", "Effect", "TimeAdded", "Age"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			printerstest.ExpectColumns(t, tt.p, tt.columns)
			printerstest.CheckRows(t, tt.p, tt.zero)
		})
	}
}

func TestCells(t *testing.T) {
	meta := printerstest.ObjectMeta("x", 3*time.Hour)
	printerstest.AssertCells(t, DeviceClass(), &resourcev1.DeviceClass{ObjectMeta: meta}, []interface{}{"x", "3h"})
	printerstest.AssertCells(t, ResourceClaimTemplate(), &resourcev1.ResourceClaimTemplate{ObjectMeta: meta}, []interface{}{"x", "3h"})

	claim := &resourcev1.ResourceClaim{ObjectMeta: meta}
	printerstest.AssertCells(t, ResourceClaim(), claim, []interface{}{"x", "pending", "3h"})
	claim.Status.Allocation = &resourcev1.AllocationResult{}
	printerstest.AssertCells(t, ResourceClaim(), claim, []interface{}{"x", "allocated", "3h"})
	claim.Status.ReservedFor = []resourcev1.ResourceClaimConsumerReference{{Resource: "pods", Name: "p", UID: "1"}}
	claim.DeletionTimestamp = ptr.To(printerstest.Ago(time.Minute))
	printerstest.AssertCells(t, ResourceClaim(), claim, []interface{}{"x", "deleted,allocated,reserved", "3h"})
	claim.Status = resourcev1.ResourceClaimStatus{}
	printerstest.AssertCells(t, ResourceClaim(), claim, []interface{}{"x", "deleted", "3h"})

	slice := &resourcev1.ResourceSlice{ObjectMeta: meta, Spec: resourcev1.ResourceSliceSpec{Driver: "dra.example.com",
		Pool: resourcev1.ResourcePool{Name: "cluster"}, NodeName: ptr.To("node-1")}}
	printerstest.AssertCells(t, ResourceSlice(), slice, []interface{}{"x", "node-1", "dra.example.com", "cluster", "3h"})

	added := metav1.NewTime(printerstest.Now.Add(-5 * time.Minute))
	rule := &resourcev1.DeviceTaintRule{ObjectMeta: meta, Spec: resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{
		Key: "example.com/broken", Value: "yes", Effect: resourcev1.DeviceTaintEffectNoExecute, TimeAdded: &added}}}
	printerstest.AssertCells(t, DeviceTaintRule(), rule, []interface{}{"x", "example.com/broken", "yes", "NoExecute", "5m", "3h"})
}
