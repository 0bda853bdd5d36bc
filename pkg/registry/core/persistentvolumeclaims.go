package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(persistentVolumeClaims) }

// persistentVolumeClaims are requests for storage. No binder matches them to
// volumes yet, so a claim stays Pending until something writes its status.
//
// As upstream's StorageObjectInUseProtection admission does, a new claim gets
// the kubernetes.io/pvc-protection finalizer: deleting a claim a pod still
// uses leaves it Terminating until controller/pvcprotection releases it.
func persistentVolumeClaims(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PersistentVolumeClaim"), "persistentvolumeclaims", "persistentvolumeclaim", true,
		func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		printers.PersistentVolumeClaim())
	r.ShortNames = []string{"pvc"}
	r.Status = true
	r.PrepareForCreate = func(obj runtime.Object) {
		pvc := obj.(*corev1.PersistentVolumeClaim)
		defaults.NewPersistentVolumeClaim(pvc)
		dropUnservedDataSources(&pvc.Spec, nil)
		normalizeDataSources(&pvc.Spec)
	}
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		spec := &obj.(*corev1.PersistentVolumeClaim).Spec
		dropUnservedDataSources(spec, &old.(*corev1.PersistentVolumeClaim).Spec)
		normalizeDataSources(spec)
		return nil
	}
	r.Default = func(obj runtime.Object) { defaults.PersistentVolumeClaim(obj.(*corev1.PersistentVolumeClaim)) }
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolumeClaim(obj.(*corev1.PersistentVolumeClaim))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolumeClaimUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePersistentVolumeClaimStatusUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		// Upstream serves the bare "name" by mistake, and keeps it for compatibility.
		return fields.Set{"name": obj.(*corev1.PersistentVolumeClaim).Name}
	}
	return r
}

// dropUnservedDataSources keeps upstream's compatibility rules for what a
// claim may be populated from. Old clients put anything in dataSource and
// expected it ignored unless it named a claim or a snapshot, so such a
// dataSource is dropped unless dataSourceRef (which only newer clients send)
// is set or the stored claim (old, nil on create) already had a source. A
// dataSourceRef into another namespace needs CrossNamespaceVolumeDataSource,
// an alpha feature Skiff does not enable, so it is dropped unless stored.
func dropUnservedDataSources(spec, old *corev1.PersistentVolumeClaimSpec) {
	if ref := spec.DataSourceRef; ref != nil && ref.Namespace != nil && *ref.Namespace != "" &&
		(old == nil || old.DataSourceRef == nil) {
		spec.DataSourceRef = nil
	}
	if old != nil && (old.DataSource != nil || old.DataSourceRef != nil) {
		return
	}
	if spec.DataSourceRef != nil || spec.DataSource == nil {
		return
	}
	group := ""
	if spec.DataSource.APIGroup != nil {
		group = *spec.DataSource.APIGroup
	}
	switch {
	case group == "" && spec.DataSource.Kind == "PersistentVolumeClaim":
	case group == "snapshot.storage.k8s.io" && spec.DataSource.Kind == "VolumeSnapshot":
	default:
		spec.DataSource = nil
	}
}

// normalizeDataSources fills whichever of dataSource and dataSourceRef is
// missing from the other, so that old and new clients each see the source in
// the field they know. A dataSourceRef into another namespace has no
// dataSource form.
func normalizeDataSources(spec *corev1.PersistentVolumeClaimSpec) {
	ds, ref := spec.DataSource, spec.DataSourceRef
	switch {
	case ds != nil && ref == nil:
		spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: copyString(ds.APIGroup), Kind: ds.Kind, Name: ds.Name}
	case ref != nil && ds == nil && (ref.Namespace == nil || *ref.Namespace == ""):
		spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: copyString(ref.APIGroup), Kind: ref.Kind, Name: ref.Name}
	}
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
