package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// validPVC is `kubectl create -f` of a one-gigabyte claim, defaulted.
func validPVC() *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	defaults.PersistentVolumeClaim(pvc)
	return pvc
}

func TestValidatePersistentVolumeClaimMessages(t *testing.T) {
	pvc := validPVC()
	pvc.Spec.AccessModes = nil
	expectMessage(t, ValidatePersistentVolumeClaim(pvc), "spec.accessModes: Required value: at least 1 access mode is required")

	pvc = validPVC()
	pvc.Spec.Resources.Requests = nil
	expectMessage(t, ValidatePersistentVolumeClaim(pvc), "spec.resources[storage]: Required value")

	pvc = validPVC()
	pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
	expectMessage(t, ValidatePersistentVolumeClaim(pvc),
		`spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`)
}

func TestValidatePersistentVolumeClaim(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PersistentVolumeClaim)
		want   []e
	}{
		{name: "valid", mutate: func(*corev1.PersistentVolumeClaim) {}},
		{name: "block, with a class and a claim as source", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
			c.Spec.StorageClassName = ptr.To("fast")
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
		}},
		{name: "no name", mutate: func(c *corev1.PersistentVolumeClaim) { c.Name = "" }, want: []e{required("metadata.name")}},
		{name: "no namespace", mutate: func(c *corev1.PersistentVolumeClaim) { c.Namespace = "" }, want: []e{required("metadata.namespace")}},
		{name: "zero storage", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}, want: []e{invalid("spec.resources[storage]", "must be greater than zero")}},
		{name: "negative storage", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("-1Gi")
		}, want: []e{invalid("spec.resources[storage]", "must be greater than zero")}},
		{name: "only cpu", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}, want: []e{required("spec.resources[storage]")}},
		{name: "ReadWriteOncePod with others", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = append(c.Spec.AccessModes, corev1.ReadWriteOncePod)
		}, want: []e{forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes")}},
		{name: "bad selector", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}
		}, want: []e{invalid("spec.selector.matchLabels", "")}},
		{name: "bad class", mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr.To("Fast_SSD") },
			want: []e{invalid("spec.storageClassName", "a lowercase RFC 1123 subdomain")}},
		{name: "bad volume attributes class", mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeAttributesClassName = ptr.To("Gold!") },
			want: []e{invalid("spec.volumeAttributesClassName", "a lowercase RFC 1123 subdomain")}},
		{name: "volume mode", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeMode("Raw"))
		}, want: []e{notSupported("spec.volumeMode", `supported values: "Block", "Filesystem"`)}},
		{name: "data source of the core group that is not a claim", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "Secret", Name: "s"}
		}, want: []e{invalid("spec.dataSource", "must be 'PersistentVolumeClaim' when referencing the default apiGroup")}},
		{name: "data source without name or kind", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io")}
		}, want: []e{required("spec.dataSource.name"), required("spec.dataSource.kind")}},
		{name: "data source ref with a bad group", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To("Example.COM"), Kind: "Populator", Name: "p"}
		}, want: []e{invalid("spec.dataSourceRef.apiGroup", "")}},
		{name: "data source and ref differ", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "a"}
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "b"}
		}, want: []e{invalid("spec", "must match dataSourceRef")}},
		{name: "data source with a namespaced ref", mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "a"}
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "a", Namespace: ptr.To("Other")}
		}, want: []e{invalid("spec", "may not be specified when dataSourceRef.namespace is specified"), invalid("spec.dataSourceRef.namespace", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc := validPVC()
			tc.mutate(pvc)
			expectErrs(t, ValidatePersistentVolumeClaim(pvc), tc.want...)
		})
	}
}

func TestValidatePersistentVolumeClaimUpdate(t *testing.T) {
	old := validPVC()
	old.ObjectMeta = stored(old.ObjectMeta)
	bound := old.DeepCopy()
	bound.Spec.VolumeName = "pv-1"
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	for _, tc := range []struct {
		name   string
		old    *corev1.PersistentVolumeClaim
		mutate func(*corev1.PersistentVolumeClaim)
		want   []e
	}{
		{name: "labels", old: old, mutate: func(c *corev1.PersistentVolumeClaim) { c.Labels = map[string]string{"a": "b"} }},
		{name: "bind once", old: old, mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" }},
		{name: "rebind", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-2" },
			want: []e{forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")}},
		{name: "name a class where none was", old: old, mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr.To("fast") }},
		{name: "access modes", old: old, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}, want: []e{forbidden("spec", "spec is immutable after creation")}},
		{name: "grow an unbound claim", old: old, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, want: []e{forbidden("spec", "spec is immutable after creation")}},
		{name: "grow a bound claim", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}},
		{name: "shrink a bound claim", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("512Mi")
		}, want: []e{forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")}},
		{name: "volume attributes class of a bound claim", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeAttributesClassName = ptr.To("gold")
		}},
		{name: "volume mode", old: old, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
		}, want: []e{forbidden("spec", "spec is immutable"), invalid("volumeMode", "field is immutable")}},
		{name: "storage class annotation", old: old, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "fast"}
		}, want: []e{invalid("metadata.annotations.volume.beta.kubernetes.io/storage-class", "field is immutable")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc := tc.old.DeepCopy()
			tc.mutate(pvc)
			expectErrs(t, ValidatePersistentVolumeClaimUpdate(pvc, tc.old), tc.want...)
		})
	}
}

func TestValidatePersistentVolumeClaimUpdateFromAnnotation(t *testing.T) {
	old := validPVC()
	old.ObjectMeta = stored(old.ObjectMeta)
	old.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "fast"}
	pvc := old.DeepCopy()
	pvc.Spec.StorageClassName = ptr.To("fast")
	expectErrs(t, ValidatePersistentVolumeClaimUpdate(pvc, old))
	pvc.Spec.StorageClassName = ptr.To("slow")
	expectErrs(t, ValidatePersistentVolumeClaimUpdate(pvc, old), forbidden("spec", "spec is immutable"))
}

func TestValidatePersistentVolumeClaimStatusUpdate(t *testing.T) {
	old := validPVC()
	old.ObjectMeta = stored(old.ObjectMeta)
	pvc := old.DeepCopy()
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{corev1.ResourceStorage: "Growing"}
	pvc.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	expectErrs(t, ValidatePersistentVolumeClaimStatusUpdate(pvc, old),
		notSupported("status.allocatedResourceStatuses", `"ControllerResizeInProgress"`),
		notSupported("status.allocatedResources", `supported values: "storage"`))
}
