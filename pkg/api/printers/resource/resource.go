package resource

import (
	"strings"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// DeviceClass prints NAME and AGE.
func DeviceClass() printers.Printer {
	return nameAndAge(func(c *resourcev1.DeviceClass) *metav1.ObjectMeta { return &c.ObjectMeta })
}

// ResourceClaimTemplate prints NAME and AGE.
func ResourceClaimTemplate() printers.Printer {
	return nameAndAge(func(t *resourcev1.ResourceClaimTemplate) *metav1.ObjectMeta { return &t.ObjectMeta })
}

func nameAndAge[T any](meta func(*T) *metav1.ObjectMeta) printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{printers.NameColumn(), printers.AgeColumn()},
		func(obj *T, now time.Time) []interface{} {
			m := meta(obj)
			return []interface{}{m.Name, printers.Age(*m, now)}
		})
}

// ResourceClaim prints NAME, STATE (deleted, pending, allocated, reserved)
// and AGE.
func ResourceClaim() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "State", Type: "string", Description: "A summary of the current state (allocated, pending, reserved, etc.)."},
		printers.AgeColumn(),
	}, func(c *resourcev1.ResourceClaim, now time.Time) []interface{} {
		var states []string
		if c.DeletionTimestamp != nil {
			states = append(states, "deleted")
		}
		switch {
		case c.Status.Allocation == nil && c.DeletionTimestamp == nil:
			states = append(states, "pending")
		case c.Status.Allocation != nil:
			states = append(states, "allocated")
			if len(c.Status.ReservedFor) > 0 {
				states = append(states, "reserved")
			}
		}
		return []interface{}{c.Name, strings.Join(states, ","), printers.Age(c.ObjectMeta, now)}
	})
}

// ResourceSlice prints NAME, NODE, DRIVER, POOL and AGE.
func ResourceSlice() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Node", Type: "string", Description: resourcev1.ResourceSliceSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Driver", Type: "string", Description: resourcev1.ResourceSliceSpec{}.SwaggerDoc()["driver"]},
		{Name: "Pool", Type: "string", Description: resourcev1.ResourcePool{}.SwaggerDoc()["name"]},
		printers.AgeColumn(),
	}, func(s *resourcev1.ResourceSlice, now time.Time) []interface{} {
		node := ""
		if s.Spec.NodeName != nil {
			node = *s.Spec.NodeName
		}
		return []interface{}{s.Name, node, s.Spec.Driver, s.Spec.Pool.Name, printers.Age(s.ObjectMeta, now)}
	})
}

// DeviceTaintRule prints NAME, the taint's KEY, VALUE, EFFECT and how long
// ago it was added (TIMEADDED), and AGE. Upstream leaves out the selector,
// which can be long.
func DeviceTaintRule() printers.Printer {
	doc := resourcev1.DeviceTaint{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Key", Type: "string", Description: doc["key"]},
		{Name: "Value", Type: "string", Description: doc["value"]},
		{Name: "Effect", Type: "string", Description: doc["effect"]},
		{Name: "TimeAdded", Type: "string", Description: doc["timeAdded"]},
		printers.AgeColumn(),
	}, func(r *resourcev1.DeviceTaintRule, now time.Time) []interface{} {
		added := ""
		if t := r.Spec.Taint.TimeAdded; t != nil {
			added = printers.Age(metav1.ObjectMeta{CreationTimestamp: *t}, now)
		}
		return []interface{}{r.Name, r.Spec.Taint.Key, r.Spec.Taint.Value, string(r.Spec.Taint.Effect), added, printers.Age(r.ObjectMeta, now)}
	})
}
