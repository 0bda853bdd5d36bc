package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestStorageAPI runs every kind of storage.k8s.io/v1 through create, get,
// update, update status, each patch type, list, watch and deletecollection,
// the operations upstream's storage conformance tests make.
func TestStorageAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	gvr := storagev1.SchemeGroupVersion.WithResource
	label := func(u *unstructured.Unstructured) bool { return hasLabel("updated", "true")(u) }
	attached := func(u *unstructured.Unstructured) bool { return fieldJSON(u, "status", "attached") == "true" }
	for _, tc := range []lifecycle{
		{gvr: gvr("storageclasses"), initial: &storagev1.StorageClass{Provisioner: "e2e-fake-provisioner"}},
		{gvr: gvr("volumeattributesclasses"), initial: &storagev1.VolumeAttributesClass{DriverName: "e2e-fake-csi-driver", Parameters: map[string]string{"foo": "bar"}}},
		{gvr: gvr("csidrivers"), initial: &storagev1.CSIDriver{Spec: storagev1.CSIDriverSpec{
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}}}},
		{gvr: gvr("csinodes"), initial: &storagev1.CSINode{}},
		{gvr: gvr("csistoragecapacities"), namespaced: true, initial: &storagev1.CSIStorageCapacity{StorageClassName: "e2e.example.com"}},
		{gvr: gvr("volumeattachments"), initial: &storagev1.VolumeAttachment{Spec: storagev1.VolumeAttachmentSpec{
			Attacher: "e2e-test.storage.k8s.io", NodeName: "node-1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-1")}}},
			updateStatus: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, true, "status", "attached")
			},
			patchStatus: map[types.PatchType]string{types.MergePatchType: `{"status":{"attached":true}}`, types.JSONPatchType: `[{"op":"replace","path":"/status/attached","value":true}]`},
			checkStatus: attached},
	} {
		tc.updateSpec, tc.patchSpec, tc.check = setLabel("updated", "true"), labelPatches("updated", "true"), label
		t.Run(tc.gvr.Resource, func(t *testing.T) { tc.run(t, c) })
	}
}

// TestStorageServerRules checks what the API server adds to and refuses of
// storage objects, as the conformance tests and kubectl users meet it:
// defaults, fields fixed after create, an attachment's status dropped on
// create and kept from its spec's writers, a capacity watched across
// namespaces.
func TestStorageServerRules(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	api := c.Client.StorageV1()

	sc, err := api.StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"},
		Provisioner: "e2e-fake-provisioner"}, metav1.CreateOptions{})
	if err != nil || !strings.HasPrefix(sc.Name, "e2e-") || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		*sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Fatalf("storage class: %+v, %v; want a generated name and upstream's defaults", sc, err)
	}
	sc.Parameters = map[string]string{"type": "ssd"}
	if _, err := api.StorageClasses().Update(ctx, sc, metav1.UpdateOptions{}); err == nil ||
		err.Error() != `StorageClass.storage.k8s.io "`+sc.Name+`" is invalid: parameters: Invalid value: {"type":"ssd"}: field is immutable` {
		t.Fatalf("changing parameters: %v", err)
	}

	newDriver := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "inline.example.com"}}
	driver, err := api.CSIDrivers().Create(ctx, newDriver, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := driver.Spec; !*s.AttachRequired || *s.PodInfoOnMount || *s.StorageCapacity || *s.RequiresRepublish || *s.SELinuxMount ||
		*s.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy || len(s.VolumeLifecycleModes) != 1 || s.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
		t.Fatalf("CSIDriver defaults: %+v", s)
	}
	if _, err := api.CSIDrivers().Create(ctx, newDriver, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	driver.Spec.AttachRequired = ptr.To(false)
	if _, err := api.CSIDrivers().Update(ctx, driver, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.attachedRequired: Invalid value: false: field is immutable") {
		t.Fatalf("changing attachRequired: %v", err)
	}

	// As upstream's "should apply changes to a volumeattachment status".
	va, err := api.VolumeAttachments().Create(ctx, &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: "va-e2e-abcde", UID: "va-e2e-abcde"},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: "e2e-test.storage.k8s.io", NodeName: "node-1",
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-e2e-abcde")}},
		Status: storagev1.VolumeAttachmentStatus{Attached: true},
	}, metav1.CreateOptions{})
	if err != nil || va.Status.Attached || va.UID == "va-e2e-abcde" {
		t.Fatalf("created attachment: %+v, %v; want a server UID and no status", va, err)
	}
	patched, err := api.VolumeAttachments().Patch(ctx, va.Name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"ignored":"x"}},"status":{"attached":true}}`), metav1.PatchOptions{}, "status")
	if err != nil || !patched.Status.Attached || patched.Labels["ignored"] == "x" {
		t.Fatalf("status patch: %+v, %v; want attached and no label", patched, err)
	}
	patched.Status.Attached = false
	patched.Spec.NodeName = "node-2"
	updated, err := api.VolumeAttachments().UpdateStatus(ctx, patched, metav1.UpdateOptions{})
	if err != nil || updated.Status.Attached || updated.Spec.NodeName != "node-1" {
		t.Fatalf("status update: %+v, %v; want detached on node-1", updated, err)
	}

	// As upstream's "should support CSIStorageCapacities API operations":
	// a watch of all namespaces sees a namespace's capacities.
	w, err := api.CSIStorageCapacities("").Watch(ctx, metav1.ListOptions{LabelSelector: "test=csc"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	capacity := &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: "csc1", Labels: map[string]string{"test": "csc"}},
		StorageClassName: "e2e.example.com", Capacity: ptr.To(resource.MustParse("10Gi"))}
	if _, err := api.CSIStorageCapacities("default").Create(ctx, capacity, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if got, ok := ev.Object.(*storagev1.CSIStorageCapacity); ev.Type != watch.Added || !ok || got.Namespace != "default" {
			t.Fatalf("watch event %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for a capacity")
	}
	capacity.Namespace = "default"
	capacity.StorageClassName = "other"
	if _, err := api.CSIStorageCapacities("default").Update(ctx, capacity, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("an update without resourceVersion changing the class: %v, want Invalid", err)
	}
}

const storageClassYAML = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: NAME
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
`

// TestStorageClassWithKubectl serves storage.k8s.io/v1 StorageClass to
// every kubectl: api-resources with its short name, explain, create, get
// (also as sc) with upstream's columns and "(default)", a parameter that
// cannot change, and delete.
func TestStorageClassWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			name := "local-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(stdin string, args ...string) string { t.Helper(); return c.MustRun(t, k, stdin, args...) }

			resources := run("", "api-resources", "--api-group=storage.k8s.io")
			for _, line := range [][]string{
				{"storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"},
				{"volumeattributesclasses", "vac", "storage.k8s.io/v1", "false", "VolumeAttributesClass"},
				{"csistoragecapacities", "storage.k8s.io/v1", "true", "CSIStorageCapacity"},
				{"volumeattachments", "storage.k8s.io/v1", "false", "VolumeAttachment"},
			} {
				if !hasLine(resources, line...) {
					t.Fatalf("api-resources lacks %q:\n%s", line, resources)
				}
			}
			mustContain(t, "explain", run("", "explain", "storageclass"), "KIND:", "StorageClass", "provisioner", "reclaimPolicy", "volumeBindingMode")
			mustContain(t, "explain a field", run("", "explain", "csidriver.spec.fsGroupPolicy"), "fsGroupPolicy")

			mustContain(t, "create", run(strings.Replace(storageClassYAML, "NAME", name, 1), "create", "-f", "-"),
				"storageclass.storage.k8s.io/"+name+" created")
			out := run("", "get", "sc", name)
			if !hasLine(out, "NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE") ||
				!hasRow(out, name, "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", "false", anyField) {
				t.Fatalf("kubectl get sc:\n%s", out)
			}

			_, errOut, err := c.Run(k, "", "patch", "storageclass", name, "-p", `{"provisioner":"example.com/other"}`)
			if err == nil {
				t.Fatal("the provisioner changed")
			}
			mustContain(t, "changing the provisioner", errOut,
				`The StorageClass "`+name+`" is invalid: provisioner: Invalid value: "example.com/other": field is immutable`)

			mustContain(t, "delete", run("", "delete", "sc", name), `storageclass.storage.k8s.io "`+name+`" deleted`)
			_, errOut, _ = c.Run(k, "", "get", "storageclass", name)
			mustContain(t, "deleted", errOut, `storageclasses.storage.k8s.io "`+name+`" not found`)
		})
	}
}
