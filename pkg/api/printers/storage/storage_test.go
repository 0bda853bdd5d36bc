package storage

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
		{"StorageClass", StorageClass(), &storagev1.StorageClass{},
			[]string{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"}},
		{"VolumeAttributesClass", VolumeAttributesClass(), &storagev1.VolumeAttributesClass{}, []string{"Name", "DriverName", "Age"}},
		{"CSIDriver", CSIDriver(), &storagev1.CSIDriver{},
			[]string{"Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity", "TokenRequests", "RequiresRepublish", "Modes", "Age"}},
		{"CSINode", CSINode(), &storagev1.CSINode{}, []string{"Name", "Drivers", "Age"}},
		{"VolumeAttachment", VolumeAttachment(), &storagev1.VolumeAttachment{}, []string{"Name", "Attacher", "PV", "Node", "Attached", "Age"}},
		{"CSIStorageCapacity", CSIStorageCapacity(), &storagev1.CSIStorageCapacity{}, []string{"Name", "StorageClassName", "Capacity"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			printerstest.ExpectColumns(t, tt.p, tt.columns)
			printerstest.CheckRows(t, tt.p, tt.zero)
		})
	}
}

func TestStorageClass(t *testing.T) {
	sc := &storagev1.StorageClass{ObjectMeta: printerstest.ObjectMeta("standard", 2*time.Hour), Provisioner: "rancher.io/local-path",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer), AllowVolumeExpansion: ptr.To(true)}
	printerstest.AssertCells(t, StorageClass(), sc, []interface{}{"standard", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", true, "120m"})

	sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
	sc.AllowVolumeExpansion = nil
	printerstest.AssertCells(t, StorageClass(), sc, []interface{}{"standard (default)", "rancher.io/local-path", "Retain", "WaitForFirstConsumer", false, "120m"})
	sc.Annotations = map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "true"}
	if name := StorageClass().Cells(sc, printerstest.Now)[0]; name != "standard (default)" {
		t.Errorf("beta default class named %q", name)
	}
}

func TestCSIDriver(t *testing.T) {
	d := &storagev1.CSIDriver{ObjectMeta: printerstest.ObjectMeta("inline.example.com", time.Minute)}
	printerstest.AssertCells(t, CSIDriver(), d, []interface{}{"inline.example.com", true, false, false, "<unset>", false, "<none>", "60s"})
	d.Spec = storagev1.CSIDriverSpec{AttachRequired: ptr.To(false), PodInfoOnMount: ptr.To(true), StorageCapacity: ptr.To(true),
		RequiresRepublish: ptr.To(true), TokenRequests: []storagev1.TokenRequest{{Audience: "a"}, {Audience: "b"}},
		VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}}
	printerstest.AssertCells(t, CSIDriver(), d, []interface{}{"inline.example.com", false, true, true, "a,b", true, "Persistent,Ephemeral", "60s"})
}

func TestOtherKinds(t *testing.T) {
	meta := printerstest.ObjectMeta("x", 90*time.Second)
	printerstest.AssertCells(t, CSINode(), &storagev1.CSINode{ObjectMeta: meta, Spec: storagev1.CSINodeSpec{Drivers: make([]storagev1.CSINodeDriver, 2)}},
		[]interface{}{"x", int64(2), "90s"})
	printerstest.AssertCells(t, VolumeAttachment(), &storagev1.VolumeAttachment{ObjectMeta: meta, Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "csi.example.com", NodeName: "node-1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-1")}},
		Status: storagev1.VolumeAttachmentStatus{Attached: true}}, []interface{}{"x", "csi.example.com", "pv-1", "node-1", true, "90s"})
	printerstest.AssertCells(t, VolumeAttributesClass(), &storagev1.VolumeAttributesClass{ObjectMeta: meta, DriverName: "d"}, []interface{}{"x", "d", "90s"})
	printerstest.AssertCells(t, CSIStorageCapacity(), &storagev1.CSIStorageCapacity{ObjectMeta: meta, StorageClassName: "fast"},
		[]interface{}{"x", "fast", "<unset>"})
	printerstest.AssertCells(t, CSIStorageCapacity(), &storagev1.CSIStorageCapacity{ObjectMeta: meta, StorageClassName: "fast", Capacity: ptr.To(resource.MustParse("10Gi"))},
		[]interface{}{"x", "fast", "10Gi"})
}
