package storage

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// A case mutates a valid object and lists the errors that must follow.
type testCase[T any] struct {
	name   string
	mutate func(T)
	want   []Err
}

func storageClass(mutate func(*storagev1.StorageClass)) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "fast"},
		Provisioner:       "kubernetes.io/gce-pd",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
	if mutate != nil {
		mutate(sc)
	}
	return sc
}

func TestValidateStorageClass(t *testing.T) {
	tests := []testCase[*storagev1.StorageClass]{
		{"valid", nil, nil},
		{"topology", func(sc *storagev1.StorageClass) {
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
				{Key: "topology.kubernetes.io/zone", Values: []string{"a", "b"}}}}}
		}, nil},
		{"no provisioner", func(sc *storagev1.StorageClass) { sc.Provisioner = "" }, []Err{required("provisioner")}},
		{"provisioner not a qualified name", func(sc *storagev1.StorageClass) { sc.Provisioner = "a/b/c" },
			[]Err{invalid("provisioner", "a valid label key must consist of")}},
		{"empty parameter key", func(sc *storagev1.StorageClass) { sc.Parameters = map[string]string{"": "x"} },
			[]Err{invalid("parameters", "field can not be empty.")}},
		{"parameters too big", func(sc *storagev1.StorageClass) {
			sc.Parameters = map[string]string{"k": strings.Repeat("x", 256*1024)}
		},
			[]Err{tooLong("parameters")}},
		{"recycle", func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle) },
			[]Err{notSupported("reclaimPolicy", `supported values: "Delete", "Retain"`)}},
		{"no binding mode", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = nil }, []Err{required("volumeBindingMode")}},
		{"bad binding mode", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingMode("Later")) },
			[]Err{notSupported("volumeBindingMode", `"Immediate", "WaitForFirstConsumer"`)}},
		{"bad topology", func(sc *storagev1.StorageClass) {
			term := corev1.TopologySelectorTerm{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
				{Key: "zone", Values: []string{"a", "a"}}, {Key: "zone", Values: []string{"b"}}, {Key: "-bad"}}}
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{term, term}
		}, []Err{
			duplicate("allowedTopologies[0].matchLabelExpressions[0].values[1]"), duplicate("allowedTopologies[0].matchLabelExpressions[1].key"),
			required("allowedTopologies[0].matchLabelExpressions[2].values"), invalid("allowedTopologies[0].matchLabelExpressions[2].key", "name part must consist of"),
			duplicate("allowedTopologies[1].matchLabelExpressions[0].values[1]"), duplicate("allowedTopologies[1].matchLabelExpressions[1].key"),
			required("allowedTopologies[1].matchLabelExpressions[2].values"), invalid("allowedTopologies[1].matchLabelExpressions[2].key", "name part must consist of"),
			duplicate("allowedTopologies[1].matchLabelExpressions"),
		}},
		{"namespaced", func(sc *storagev1.StorageClass) { sc.Namespace = "default" },
			[]Err{forbidden("metadata.namespace", "not allowed on this type")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErrs(t, ValidateStorageClass(storageClass(tt.mutate)), tt.want...) })
	}
}

func TestValidateStorageClassUpdate(t *testing.T) {
	old := storageClass(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)

	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"tier": "gold"}
	relabelled.AllowVolumeExpansion = ptr.To(true)
	expectErrs(t, ValidateStorageClassUpdate(relabelled, old))

	changed := old.DeepCopy()
	changed.Parameters = map[string]string{"type": "ssd"}
	changed.Provisioner = "example.com/other"
	changed.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
	changed.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	expectErrs(t, ValidateStorageClassUpdate(changed, old),
		invalid("parameters", "field is immutable"), invalid("provisioner", "field is immutable"),
		invalid("reclaimPolicy", "field is immutable"), invalid("volumeBindingMode", "field is immutable"))
}

func TestValidateVolumeAttributesClass(t *testing.T) {
	vac := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: "gold"}, DriverName: "e2e-fake-csi-driver",
		Parameters: map[string]string{"iops": "5000"}}
	expectErrs(t, ValidateVolumeAttributesClass(vac))

	empty := vac.DeepCopy()
	empty.DriverName, empty.Parameters = "", nil
	expectErrs(t, ValidateVolumeAttributesClass(empty), required("driverName"),
		required("parameters"))

	old := vac.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	changed := old.DeepCopy()
	changed.DriverName = "other"
	changed.Parameters = map[string]string{"iops": "1000"}
	expectErrs(t, ValidateVolumeAttributesClassUpdate(changed, old),
		forbidden("driverName", "updates to driverName are forbidden."), forbidden("parameters", "updates to parameters are forbidden."))
}

func csiDriver(mutate func(*storagev1.CSIDriver)) *storagev1.CSIDriver {
	d := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "inline.example.com"}, Spec: storagev1.CSIDriverSpec{
		AttachRequired: ptr.To(true), PodInfoOnMount: ptr.To(false), StorageCapacity: ptr.To(false), RequiresRepublish: ptr.To(false),
		SELinuxMount: ptr.To(false), PreventPodSchedulingIfMissing: ptr.To(false),
		FSGroupPolicy:        ptr.To(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy),
		VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
	}}
	if mutate != nil {
		mutate(d)
	}
	return d
}

func TestValidateCSIDriver(t *testing.T) {
	tests := []testCase[*storagev1.CSIDriver]{
		{"valid", nil, nil},
		{"tokens", func(d *storagev1.CSIDriver) {
			d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: ""}, {Audience: "vault", ExpirationSeconds: ptr.To(int64(600))}}
			d.Spec.ServiceAccountTokenInSecrets = ptr.To(true)
		}, nil},
		{"unset capabilities", func(d *storagev1.CSIDriver) {
			d.Spec.AttachRequired, d.Spec.PodInfoOnMount, d.Spec.StorageCapacity = nil, nil, nil
		},
			[]Err{required("spec.attachedRequired"), required("spec.podInfoOnMount"), required("spec.storageCapacity")}},
		{"bad policy and mode", func(d *storagev1.CSIDriver) {
			d.Spec.FSGroupPolicy = ptr.To(storagev1.FSGroupPolicy("Always"))
			d.Spec.VolumeLifecycleModes = append(d.Spec.VolumeLifecycleModes, "Forever")
		}, []Err{notSupported("spec.fsGroupPolicy", `"File", "None", "ReadWriteOnceWithFSType"`),
			notSupported("spec.volumeLifecycleModes", `"Persistent", "Ephemeral"`)}},
		{"bad tokens", func(d *storagev1.CSIDriver) {
			d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: "a", ExpirationSeconds: ptr.To(int64(60))},
				{Audience: "a"}, {Audience: "b", ExpirationSeconds: ptr.To(int64(1<<32 + 1))}}
		}, []Err{invalid("spec.tokenRequests[0].expirationSeconds", "less than 10 minutes"), duplicate("spec.tokenRequests[1].audience"),
			invalid("spec.tokenRequests[2].expirationSeconds", "larger than 2^32 seconds")}},
		{"secrets without tokens", func(d *storagev1.CSIDriver) { d.Spec.ServiceAccountTokenInSecrets = ptr.To(true) },
			[]Err{invalid("spec.serviceAccountTokenInSecrets", "no tokenRequests are specified")}},
		{"update period", func(d *storagev1.CSIDriver) { d.Spec.NodeAllocatableUpdatePeriodSeconds = ptr.To(int64(5)) },
			[]Err{invalid("spec.nodeAllocatableUpdatePeriodSeconds", "greater than or equal to 10 seconds")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErrs(t, ValidateCSIDriver(csiDriver(tt.mutate)), tt.want...) })
	}

	old := csiDriver(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{old.Name: "patched"}
	relabelled.Spec.PodInfoOnMount = ptr.To(true)
	expectErrs(t, ValidateCSIDriverUpdate(relabelled, old))
	changed := old.DeepCopy()
	changed.Spec.AttachRequired = ptr.To(false)
	changed.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}
	expectErrs(t, ValidateCSIDriverUpdate(changed, old),
		invalid("spec.attachedRequired", "field is immutable"), invalid("spec.volumeLifecycleModes", "field is immutable"))
}

func TestValidateCSINode(t *testing.T) {
	// The conformance test's CSINode has no drivers at all.
	expectErrs(t, ValidateCSINode(&storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "e2e-csinode-abcde"}}))

	n := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
		{Name: "hostpath.csi.k8s.io", NodeID: "node-1", TopologyKeys: []string{"topology.hostpath/node"},
			Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(10))}},
	}}}
	expectErrs(t, ValidateCSINode(n))

	bad := n.DeepCopy()
	bad.Spec.Drivers = append(bad.Spec.Drivers, storagev1.CSINodeDriver{Name: "hostpath.csi.k8s.io", NodeID: strings.Repeat("x", 257),
		TopologyKeys: []string{"k", "k", ""}, Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(-1))}},
		storagev1.CSINodeDriver{Name: "Bad_Driver"})
	expectErrs(t, ValidateCSINode(bad),
		invalid("spec.drivers[1].nodeID", "must be 256 characters or less"), invalid("spec.drivers[1].allocatable.count", "greater than or equal to 0"),
		duplicate("spec.drivers[1].name"), duplicate("spec.drivers[1]"), required("spec.drivers[1]"), invalid("spec.drivers[1]", "name part must be non-empty"), invalid("spec.drivers[1]", "name part must consist of"),
		invalid("spec.drivers[2].name", "RFC 1123 subdomain"), required("spec.drivers[2].nodeID"))

	old := n.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	recounted := old.DeepCopy()
	recounted.Spec.Drivers[0].Allocatable.Count = ptr.To(int32(20))
	expectErrs(t, ValidateCSINodeUpdate(recounted, old))
	moved := old.DeepCopy()
	moved.Spec.Drivers[0].NodeID = "node-2"
	expectErrs(t, ValidateCSINodeUpdate(moved, old), invalid("spec.drivers", "field is immutable"))
}

func volumeAttachment(mutate func(*storagev1.VolumeAttachment)) *storagev1.VolumeAttachment {
	va := &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "va-e2e-abcde"}, Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "e2e-test.storage.k8s.io", NodeName: "node-1",
		Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-e2e-abcde")},
	}}
	if mutate != nil {
		mutate(va)
	}
	return va
}

func TestValidateVolumeAttachment(t *testing.T) {
	tests := []testCase[*storagev1.VolumeAttachment]{
		{"valid", nil, nil},
		{"no attacher, node or source", func(va *storagev1.VolumeAttachment) {
			va.Spec = storagev1.VolumeAttachmentSpec{}
		}, []Err{required("spec.attacher"), required("spec.source"), invalid("spec.nodeName", "RFC 1123 subdomain")}},
		{"two sources", func(va *storagev1.VolumeAttachment) { va.Spec.Source.InlineVolumeSpec = &corev1.PersistentVolumeSpec{} },
			[]Err{forbidden("spec.source", "exactly one of inlineVolumeSpec and persistentVolumeName")}},
		{"empty volume name", func(va *storagev1.VolumeAttachment) { va.Spec.Source.PersistentVolumeName = ptr.To("") },
			[]Err{required("spec.source.persistentVolumeName")}},
		{"bad status", func(va *storagev1.VolumeAttachment) {
			va.Status.AttachError = &storagev1.VolumeError{Message: strings.Repeat("x", 1025), ErrorCode: ptr.To(int32(-1))}
		}, []Err{tooLong("status.attachError.message"), invalid("status.attachError.errorCode", "between 0 and 2147483647")}},
		{"inline volume", func(va *storagev1.VolumeAttachment) {
			va.Spec.Source = storagev1.VolumeAttachmentSource{InlineVolumeSpec: &corev1.PersistentVolumeSpec{
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d.example.com"}},
			}}
		}, []Err{required("spec.source.inlineVolumeSpec.csi.volumeHandle")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectErrs(t, ValidateVolumeAttachment(volumeAttachment(tt.mutate)), tt.want...) })
	}

	old := volumeAttachment(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	attached := old.DeepCopy()
	attached.Labels = map[string]string{"va-e2e": "updated"}
	attached.Status.Attached = true
	expectErrs(t, ValidateVolumeAttachmentUpdate(attached, old))
	moved := old.DeepCopy()
	moved.Spec.NodeName = "node-2"
	expectErrs(t, ValidateVolumeAttachmentUpdate(moved, old), invalid("spec", "field is immutable"))
}

func TestValidateCSIStorageCapacity(t *testing.T) {
	c := &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: "csc1", Namespace: "default"}, StorageClassName: "e2e.example.com",
		NodeTopology: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a"}}, Capacity: ptr.To(resource.MustParse("10Gi"))}
	expectErrs(t, ValidateCSIStorageCapacity(c, false))

	bad := c.DeepCopy()
	bad.Namespace = ""
	bad.StorageClassName = "Not_A_Class"
	bad.Capacity = ptr.To(resource.MustParse("-1"))
	bad.NodeTopology.MatchLabels["zone"] = "not valid"
	expectErrs(t, ValidateCSIStorageCapacity(bad, false), required("metadata.namespace"),
		invalid("storageClassName", "RFC 1123 subdomain"), invalid("capacity", "must be greater than or equal to 0"),
		invalid("nodeTopology.matchLabels", "a valid label must be"))

	old := c.DeepCopy()
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	remeasured := old.DeepCopy()
	remeasured.Capacity = ptr.To(resource.MustParse("5Gi"))
	remeasured.Annotations = map[string]string{"updated": "true"}
	expectErrs(t, ValidateCSIStorageCapacityUpdate(remeasured, old))
	moved := old.DeepCopy()
	moved.StorageClassName = "other"
	moved.NodeTopology = nil
	expectErrs(t, ValidateCSIStorageCapacityUpdate(moved, old),
		invalid("storageClassName", "field is immutable"), invalid("nodeTopology", "field is immutable"))
}
