package resource

import (
	"testing"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResourceClaim(t *testing.T) {
	c := &resourcev1.ResourceClaim{Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{
		{Name: "one", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gpu",
			Tolerations: []resourcev1.DeviceToleration{{Key: "k", Value: "v"}, {Key: "k", Operator: resourcev1.DeviceTolerationOpExists}}}},
		{Name: "all", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gpu", AllocationMode: resourcev1.DeviceAllocationModeAll}},
		{Name: "two", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gpu", Count: 2}},
		{Name: "either", FirstAvailable: []resourcev1.DeviceSubRequest{{Name: "big", DeviceClassName: "gpu"}}},
	}}}}
	c.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{Results: []resourcev1.DeviceRequestAllocationResult{
		{Request: "one", Tolerations: []resourcev1.DeviceToleration{{Key: "k"}}}}}}
	ResourceClaim(c)

	reqs := c.Spec.Devices.Requests
	exact := resourcev1.DeviceAllocationModeExactCount
	for _, tt := range []struct {
		name  string
		mode  resourcev1.DeviceAllocationMode
		count int64
		want  resourcev1.DeviceAllocationMode
		wantN int64
	}{
		{"one", reqs[0].Exactly.AllocationMode, reqs[0].Exactly.Count, exact, 1},
		{"all", reqs[1].Exactly.AllocationMode, reqs[1].Exactly.Count, resourcev1.DeviceAllocationModeAll, 0},
		{"two", reqs[2].Exactly.AllocationMode, reqs[2].Exactly.Count, exact, 2},
		{"either/big", reqs[3].FirstAvailable[0].AllocationMode, reqs[3].FirstAvailable[0].Count, exact, 1},
	} {
		if tt.mode != tt.want || tt.count != tt.wantN {
			t.Errorf("request %s: %s %d, want %s %d", tt.name, tt.mode, tt.count, tt.want, tt.wantN)
		}
	}
	if got := reqs[0].Exactly.Tolerations; got[0].Operator != resourcev1.DeviceTolerationOpEqual || got[1].Operator != resourcev1.DeviceTolerationOpExists {
		t.Errorf("request tolerations %+v, want Equal then Exists", got)
	}
	if got := c.Status.Allocation.Devices.Results[0].Tolerations[0].Operator; got != resourcev1.DeviceTolerationOpEqual {
		t.Errorf("allocated toleration operator %q, want Equal", got)
	}
}

func TestResourceClaimTemplate(t *testing.T) {
	tmpl := &resourcev1.ResourceClaimTemplate{Spec: resourcev1.ResourceClaimTemplateSpec{Spec: resourcev1.ResourceClaimSpec{
		Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "req-0", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gpu"}}}}}}}
	ResourceClaimTemplate(tmpl)
	if got := tmpl.Spec.Spec.Devices.Requests[0].Exactly; got.AllocationMode != resourcev1.DeviceAllocationModeExactCount || got.Count != 1 {
		t.Errorf("template request %+v, want ExactCount 1", got)
	}
}

func TestTaintTimeAdded(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	rule := &resourcev1.DeviceTaintRule{Spec: resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{Key: "k", Effect: resourcev1.DeviceTaintEffectNoSchedule}}}
	DeviceTaintRule(rule)
	if added := rule.Spec.Taint.TimeAdded; added == nil || added.Before(&metav1.Time{Time: before}) || added.Nanosecond() != 0 {
		t.Errorf("timeAdded %v, want now in whole seconds", added)
	}

	set := metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	slice := &resourcev1.ResourceSlice{Spec: resourcev1.ResourceSliceSpec{Devices: []resourcev1.Device{{Name: "gpu-0",
		Taints: []resourcev1.DeviceTaint{{Key: "a"}, {Key: "b", TimeAdded: &set}}}}}}
	ResourceSlice(slice)
	taints := slice.Spec.Devices[0].Taints
	if taints[0].TimeAdded == nil || !apiequality.Semantic.DeepEqual(taints[1].TimeAdded, &set) {
		t.Errorf("device taints %+v: want the first stamped, the second kept", taints)
	}
}
