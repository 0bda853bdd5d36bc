package resource

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

type Err = validationtest.Err

var (
	required     = validationtest.Required
	invalid      = validationtest.Invalid
	notSupported = validationtest.NotSupported
	forbidden    = validationtest.Forbidden
	duplicate    = validationtest.Duplicate
	tooLong      = validationtest.TooLong
	expectErrs   = validationtest.Expect
)

func tooMany(path string) Err { return Err{Type: field.ErrorTypeTooMany, Field: path} }

func exact(class string) *resourcev1.ExactDeviceRequest {
	return &resourcev1.ExactDeviceRequest{DeviceClassName: class, AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 1}
}

func opaque(driver, params string) resourcev1.DeviceConfiguration {
	return resourcev1.DeviceConfiguration{Opaque: &resourcev1.OpaqueDeviceConfiguration{Driver: driver, Parameters: runtime.RawExtension{Raw: []byte(params)}}}
}

func TestValidateDeviceClass(t *testing.T) {
	// The conformance test's class selects nothing.
	c := &resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "test-dra-1234"}, Spec: resourcev1.DeviceClassSpec{
		Selectors: []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{Expression: "false"}}},
		Config:    []resourcev1.DeviceClassConfiguration{{DeviceConfiguration: opaque("gpu.example.com", `{"sharing":"time"}`)}},
	}}
	expectErrs(t, ValidateDeviceClass(c))

	bad := c.DeepCopy()
	bad.Spec.Selectors = append(bad.Spec.Selectors, resourcev1.DeviceSelector{}, resourcev1.DeviceSelector{CEL: &resourcev1.CELDeviceSelector{}},
		resourcev1.DeviceSelector{CEL: &resourcev1.CELDeviceSelector{Expression: strings.Repeat("x", 10*1024+1)}})
	bad.Spec.Config = []resourcev1.DeviceClassConfiguration{{}, {DeviceConfiguration: opaque("", "")},
		{DeviceConfiguration: opaque("gpu.example.com", "[1]")}, {DeviceConfiguration: opaque("gpu.example.com", "{")}}
	bad.Spec.ExtendedResourceName = ptr.To("cpu")
	expectErrs(t, ValidateDeviceClass(bad),
		required("spec.selectors[1].cel"), required("spec.selectors[2].cel.expression"), tooLong("spec.selectors[3].cel.expression"),
		required("spec.config[0].opaque"), required("spec.config[1].opaque.driver"), required("spec.config[1].opaque.parameters"),
		invalid("spec.config[2].opaque.parameters", "must be a valid JSON object"),
		invalid("spec.config[3].opaque.parameters", "error parsing data as JSON"),
		invalid("spec.extendedResourceName", "must be a valid extended resource name"))

	many := c.DeepCopy()
	many.Spec.Selectors = make([]resourcev1.DeviceSelector, 33)
	expectErrs(t, ValidateDeviceClass(many), tooMany("spec.selectors"))

	withResource := c.DeepCopy()
	withResource.Spec.ExtendedResourceName = ptr.To("example.com/gpu")
	expectErrs(t, ValidateDeviceClass(withResource))

	old := c.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	reselected := old.DeepCopy()
	reselected.Spec.Selectors[0].CEL.Expression = "1 == 0"
	expectErrs(t, ValidateDeviceClassUpdate(reselected, old))
}

func claim(mutate func(*resourcev1.ResourceClaim)) *resourcev1.ResourceClaim {
	c := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "dra-1234"}, Spec: resourcev1.ResourceClaimSpec{
		Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "req-0", Exactly: exact("dra.example.com")}}}}}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestValidateResourceClaim(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*resourcev1.ResourceClaim)
		want   []Err
	}{
		{"valid", nil, nil},
		{"full", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests = append(c.Spec.Devices.Requests, resourcev1.DeviceRequest{Name: "either", FirstAvailable: []resourcev1.DeviceSubRequest{
				{Name: "big", DeviceClassName: "gpu", AllocationMode: resourcev1.DeviceAllocationModeAll},
				{Name: "small", DeviceClassName: "gpu", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 2,
					Tolerations: []resourcev1.DeviceToleration{{Key: "example.com/flaky", Operator: resourcev1.DeviceTolerationOpExists}}}}})
			c.Spec.Devices.Constraints = []resourcev1.DeviceConstraint{{Requests: []string{"req-0", "either/big"},
				MatchAttribute: ptr.To(resourcev1.FullyQualifiedName("gpu.example.com/model"))}}
			c.Spec.Devices.Config = []resourcev1.DeviceClaimConfiguration{{Requests: []string{"either/small"}, DeviceConfiguration: opaque("gpu.example.com", "{}")}}
		}, nil},
		{"no name, no kind of request", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests = []resourcev1.DeviceRequest{{}}
		}, []Err{required("spec.devices.requests[0].name"),
			required("spec.devices.requests[0]")}},
		{"both kinds of request", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests[0].FirstAvailable = []resourcev1.DeviceSubRequest{{Name: "a", DeviceClassName: "gpu"}}
		}, []Err{invalid("spec.devices.requests[0]", "but multiple fields are set")}},
		{"duplicate request", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests = append(c.Spec.Devices.Requests, c.Spec.Devices.Requests[0])
		}, []Err{duplicate("spec.devices.requests[1]")}},
		{"bad exact request", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests[0] = resourcev1.DeviceRequest{Name: "Req_0", Exactly: &resourcev1.ExactDeviceRequest{
				AllocationMode: "Some", Tolerations: []resourcev1.DeviceToleration{{Operator: "Maybe", Effect: "Never"}, {Key: "k", Value: "v", Operator: resourcev1.DeviceTolerationOpExists}}}}
		}, []Err{invalid("spec.devices.requests[0].name", "RFC 1123 label"), required("spec.devices.requests[0].exactly.deviceClassName"),
			notSupported("spec.devices.requests[0].exactly.allocationMode", `"All", "ExactCount"`),
			notSupported("spec.devices.requests[0].exactly.tolerations[0].operator", `"Equal", "Exists"`),
			notSupported("spec.devices.requests[0].exactly.tolerations[0].effect", `"NoExecute", "NoSchedule", "None"`),
			invalid("spec.devices.requests[0].exactly.tolerations[1].value", "must be empty for operator `Exists`")}},
		{"bad counts", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Requests[0].Exactly.Count = 0
			c.Spec.Devices.Requests = append(c.Spec.Devices.Requests, resourcev1.DeviceRequest{Name: "all", Exactly: &resourcev1.ExactDeviceRequest{
				DeviceClassName: "gpu", AllocationMode: resourcev1.DeviceAllocationModeAll, Count: 2}})
		}, []Err{invalid("spec.devices.requests[0].exactly.count", "must be greater than zero"),
			invalid("spec.devices.requests[1].exactly.count", "must not be specified when allocationMode is 'All'")}},
		{"bad references", func(c *resourcev1.ResourceClaim) {
			c.Spec.Devices.Constraints = []resourcev1.DeviceConstraint{{Requests: []string{"nope", "req-0/sub", "a/b/c"}},
				{MatchAttribute: ptr.To(resourcev1.FullyQualifiedName("model"))}}
			c.Spec.Devices.Config = []resourcev1.DeviceClaimConfiguration{{Requests: []string{"req-0", "req-0"}, DeviceConfiguration: opaque("d.example.com", "{}")}}
		}, []Err{invalid("spec.devices.constraints[0].requests[0]", requestRefMsg), invalid("spec.devices.constraints[0].requests[1]", requestRefMsg),
			invalid("spec.devices.constraints[0].requests[2]", requestRefMsg), required("spec.devices.constraints[0]"),
			invalid("spec.devices.constraints[1].matchAttribute", "a fully qualified name must be a domain and a name separated by a slash"),
			duplicate("spec.devices.config[0].requests[1]")}},
		{"cluster-scoped", func(c *resourcev1.ResourceClaim) { c.Namespace = "" }, []Err{required("metadata.namespace")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErrs(t, ValidateResourceClaim(claim(tt.mutate)), tt.want...) })
	}
}

func TestValidateResourceClaimUpdate(t *testing.T) {
	old := claim(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"test.dra.example.com": "test"}
	expectErrs(t, ValidateResourceClaimUpdate(labelled, old))
	respecified := old.DeepCopy()
	respecified.Spec.Devices.Requests[0].Exactly.Count = 2
	expectErrs(t, ValidateResourceClaimUpdate(respecified, old), invalid("spec", "field is immutable"))
}

func TestValidateResourceClaimStatusUpdate(t *testing.T) {
	old := claim(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)

	// "Nothing allocated" is an allocation, as the conformance test sets it.
	empty := old.DeepCopy()
	empty.Status.Allocation = &resourcev1.AllocationResult{}
	expectErrs(t, ValidateResourceClaimStatusUpdate(empty, old))

	allocated := old.DeepCopy()
	allocated.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{
		Results: []resourcev1.DeviceRequestAllocationResult{{Request: "req-0", Driver: "dra.example.com", Pool: "node-1", Device: "gpu-0"}}},
		NodeSelector: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}}}}}}
	allocated.Status.ReservedFor = []resourcev1.ResourceClaimConsumerReference{{Resource: "pods", Name: "p", UID: "1"}}
	expectErrs(t, ValidateResourceClaimStatusUpdate(allocated, old))

	bad := old.DeepCopy()
	bad.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{
		Results: []resourcev1.DeviceRequestAllocationResult{{Request: "other", Pool: "a//b", Device: "GPU"}},
		Config:  []resourcev1.DeviceAllocationConfiguration{{Source: "Somewhere", DeviceConfiguration: opaque("d.example.com", "{}")}}}}
	expectErrs(t, ValidateResourceClaimStatusUpdate(bad, old),
		invalid("status.allocation.devices.results[0].request", requestRefMsg), required("status.allocation.devices.results[0].driver"),
		invalid("status.allocation.devices.results[0].pool", "RFC 1123 subdomain"), invalid("status.allocation.devices.results[0].device", "RFC 1123 label"),
		notSupported("status.allocation.devices.config[0].source", `"FromClaim", "FromClass"`))

	unallocated := old.DeepCopy()
	unallocated.Status.ReservedFor = []resourcev1.ResourceClaimConsumerReference{{}, {UID: "1", Resource: "pods", Name: "a"}, {UID: "1", Resource: "pods", Name: "b"}}
	expectErrs(t, ValidateResourceClaimStatusUpdate(unallocated, old),
		required("status.reservedFor[0].resource"), required("status.reservedFor[0].name"), required("status.reservedFor[0].uid"),
		duplicate("status.reservedFor[2]"), forbidden("status.reservedFor", "may not be specified when `allocated` is not set"))

	stored := allocated.DeepCopy()
	stored.Status.ReservedFor = nil
	reallocated := stored.DeepCopy()
	reallocated.Status.Allocation.Devices.Results[0].Device = "gpu-1"
	expectErrs(t, ValidateResourceClaimStatusUpdate(reallocated, stored), invalid("status.allocation", "field is immutable"))

	deleting := stored.DeepCopy()
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	stored.DeletionTimestamp = deleting.DeletionTimestamp
	deleting.Status.ReservedFor = []resourcev1.ResourceClaimConsumerReference{{Resource: "pods", Name: "late", UID: "2"}}
	expectErrs(t, ValidateResourceClaimStatusUpdate(deleting, stored), forbidden("status.reservedFor", "new entries may not be added"))
}

func TestValidateResourceClaimTemplate(t *testing.T) {
	tmpl := &resourcev1.ResourceClaimTemplate{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "dra-1234"},
		Spec: resourcev1.ResourceClaimTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: claim(nil).Spec}}
	expectErrs(t, ValidateResourceClaimTemplate(tmpl))

	bad := tmpl.DeepCopy()
	bad.Spec.Labels["-bad"] = "x"
	bad.Spec.Spec.Devices.Requests[0].Exactly.DeviceClassName = ""
	expectErrs(t, ValidateResourceClaimTemplate(bad), invalid("spec.metadata.labels", "name part must consist of"),
		required("spec.spec.devices.requests[0].exactly.deviceClassName"))

	old := tmpl.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"test.dra.example.com": "test"}
	expectErrs(t, ValidateResourceClaimTemplateUpdate(labelled, old))
	respecified := old.DeepCopy()
	respecified.Spec.Labels = nil
	expectErrs(t, ValidateResourceClaimTemplateUpdate(respecified, old), invalid("spec", "field is immutable"))
}

func slice(mutate func(*resourcev1.ResourceSlice)) *resourcev1.ResourceSlice {
	s := &resourcev1.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: "test-dra-1234"}, Spec: resourcev1.ResourceSliceSpec{
		Driver: "dra.example.com", NodeName: ptr.To("no-such-node"),
		Pool: resourcev1.ResourcePool{Name: "cluster", Generation: 1, ResourceSliceCount: 1}}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func TestValidateResourceSlice(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*resourcev1.ResourceSlice)
		want   []Err
	}{
		{"valid", nil, nil},
		{"devices", func(s *resourcev1.ResourceSlice) {
			s.Spec.Devices = []resourcev1.Device{{Name: "device-0", Attributes: map[resourcev1.QualifiedName]resourcev1.DeviceAttribute{
				"model": {StringValue: ptr.To("a100")}, "dra.example.com/index": {IntValue: ptr.To(int64(0))}},
				Taints: []resourcev1.DeviceTaint{{Key: "example.com/broken", Effect: resourcev1.DeviceTaintEffectNoSchedule}}}}
		}, nil},
		{"all nodes", func(s *resourcev1.ResourceSlice) { s.Spec.NodeName, s.Spec.AllNodes = nil, ptr.To(true) }, nil},
		{"empty", func(s *resourcev1.ResourceSlice) { s.Spec = resourcev1.ResourceSliceSpec{} }, []Err{
			required("spec.driver"), required("spec.pool.name"), invalid("spec.pool.resourceSliceCount", "must be greater than zero"),
			required("spec")}},
		{"two node choices", func(s *resourcev1.ResourceSlice) {
			s.Spec.AllNodes = ptr.To(true)
			s.Spec.PerDeviceNodeSelection = ptr.To(false)
			s.Spec.Pool.Generation = -1
		}, []Err{invalid("spec", "but multiple fields are set"), invalid("spec.perDeviceNodeSelection", "must be either unset or set to true"),
			invalid("spec.pool.generation", "greater than or equal to zero")}},
		{"selector of two terms", func(s *resourcev1.ResourceSlice) {
			term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}
			s.Spec.NodeName, s.Spec.NodeSelector = nil, &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term, term}}
		}, []Err{invalid("spec.nodeSelector.nodeSelectorTerms", "must have exactly one node selector term")}},
		{"bad devices", func(s *resourcev1.ResourceSlice) {
			s.Spec.NodeName = ptr.To("")
			s.Spec.AllNodes = ptr.To(true)
			s.Spec.Devices = []resourcev1.Device{{Name: "gpu-0", Attributes: map[resourcev1.QualifiedName]resourcev1.DeviceAttribute{"1bad": {}}},
				{Name: "gpu-0", Taints: []resourcev1.DeviceTaint{{Key: "k"}}}}
		}, []Err{invalid("spec.nodeName", "must be either unset or set to a non-empty string"),
			invalid("spec.devices[0].attributes[1bad]", "a valid C identifier must start"), duplicate("spec.devices[1]"),
			required("spec.devices[1].taints[0].effect")}},
		{"too many devices", func(s *resourcev1.ResourceSlice) {
			s.Spec.Devices = make([]resourcev1.Device, 129)
		}, []Err{tooMany("spec.devices")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErrs(t, ValidateResourceSlice(slice(tt.mutate)), tt.want...) })
	}

	old := slice(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	withDevice := old.DeepCopy()
	withDevice.Spec.Devices = []resourcev1.Device{{Name: "device-0"}}
	expectErrs(t, ValidateResourceSliceUpdate(withDevice, old))
	moved := old.DeepCopy()
	moved.Spec.Driver, moved.Spec.Pool.Name, moved.Spec.NodeName = "other.example.com", "other", ptr.To("node-2")
	expectErrs(t, ValidateResourceSliceUpdate(moved, old),
		invalid("spec.driver", "field is immutable"), invalid("spec.pool.name", "field is immutable"), invalid("spec.nodeName", "field is immutable"))
}

func TestValidateDeviceTaintRule(t *testing.T) {
	r := &resourcev1.DeviceTaintRule{ObjectMeta: metav1.ObjectMeta{Name: "test-dra-1234"}, Spec: resourcev1.DeviceTaintRuleSpec{
		Taint: resourcev1.DeviceTaint{Key: "testing", Effect: resourcev1.DeviceTaintEffectNone}}}
	expectErrs(t, ValidateDeviceTaintRule(r))

	bad := r.DeepCopy()
	bad.Spec.DeviceSelector = &resourcev1.DeviceTaintSelector{Driver: ptr.To(""), Pool: ptr.To("Pool"), Device: ptr.To("gpu.0")}
	bad.Spec.Taint = resourcev1.DeviceTaint{Key: "", Value: "not valid", Effect: "Evict"}
	expectErrs(t, ValidateDeviceTaintRule(bad), required("spec.deviceSelector.driver"), invalid("spec.deviceSelector.pool", "RFC 1123 subdomain"),
		invalid("spec.deviceSelector.device", "must not contain dots"), invalid("spec.taint.key", "name part must be non-empty"),
		invalid("spec.taint.key", "name part must consist of"), invalid("spec.taint.value", "a valid label must be"),
		notSupported("spec.taint.effect", `"NoExecute", "NoSchedule", "None"`))

	old := r.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	old.Spec.Taint.Effect = "Legacy"
	kept := old.DeepCopy()
	kept.Spec.Taint.Value = "v"
	expectErrs(t, ValidateDeviceTaintRuleUpdate(kept, old))
	changed := old.DeepCopy()
	changed.Spec.Taint.Effect = "Other"
	expectErrs(t, ValidateDeviceTaintRuleUpdate(changed, old), notSupported("spec.taint.effect", "NoExecute"))

	status := old.DeepCopy()
	status.Status.Conditions = make([]metav1.Condition, 9)
	for i := range status.Status.Conditions {
		status.Status.Conditions[i] = metav1.Condition{Type: "T" + strings.Repeat("x", i), Status: metav1.ConditionTrue,
			LastTransitionTime: metav1.Now(), Reason: "E2E_test_running"}
	}
	status.Status.Conditions[0].Status = "Maybe"
	expectErrs(t, ValidateDeviceTaintRuleStatusUpdate(status, old), notSupported("status.conditions[0].status", "True"), tooMany("status.conditions"))
}
