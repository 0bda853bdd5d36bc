package resource

import (
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceClaim defaults a claim's requests and the tolerations of its
// allocation.
func ResourceClaim(c *resourcev1.ResourceClaim) {
	ResourceClaimSpec(&c.Spec)
	if c.Status.Allocation != nil {
		for i := range c.Status.Allocation.Devices.Results {
			tolerations(c.Status.Allocation.Devices.Results[i].Tolerations)
		}
	}
}

// ResourceClaimTemplate defaults the claim a template stamps out.
func ResourceClaimTemplate(t *resourcev1.ResourceClaimTemplate) { ResourceClaimSpec(&t.Spec.Spec) }

// ResourceClaimSpec defaults each request, and each alternative of a
// firstAvailable request: exactly one device unless said otherwise.
func ResourceClaimSpec(s *resourcev1.ResourceClaimSpec) {
	for i := range s.Devices.Requests {
		r := &s.Devices.Requests[i]
		if r.Exactly != nil {
			allocationMode(&r.Exactly.AllocationMode, &r.Exactly.Count)
			tolerations(r.Exactly.Tolerations)
		}
		for j := range r.FirstAvailable {
			sub := &r.FirstAvailable[j]
			allocationMode(&sub.AllocationMode, &sub.Count)
			tolerations(sub.Tolerations)
		}
	}
}

// ResourceSlice stamps the devices' taints with when they were added.
func ResourceSlice(s *resourcev1.ResourceSlice) {
	for i := range s.Spec.Devices {
		for j := range s.Spec.Devices[i].Taints {
			taint(&s.Spec.Devices[i].Taints[j])
		}
	}
}

// DeviceTaintRule stamps the rule's taint with when it was added.
func DeviceTaintRule(r *resourcev1.DeviceTaintRule) { taint(&r.Spec.Taint) }

func allocationMode(mode *resourcev1.DeviceAllocationMode, count *int64) {
	if *mode == "" {
		*mode = resourcev1.DeviceAllocationModeExactCount
	}
	if *mode == resourcev1.DeviceAllocationModeExactCount && *count == 0 {
		*count = 1
	}
}

func tolerations(ts []resourcev1.DeviceToleration) {
	for i := range ts {
		if ts[i].Operator == "" {
			ts[i].Operator = resourcev1.DeviceTolerationOpEqual
		}
	}
}

// taint uses whole seconds, as the time is serialized.
func taint(t *resourcev1.DeviceTaint) {
	if t.TimeAdded == nil {
		t.TimeAdded = &metav1.Time{Time: time.Now().Truncate(time.Second)}
	}
}
