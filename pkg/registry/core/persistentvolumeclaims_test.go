package core

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func claim(mutate func(*corev1.PersistentVolumeClaimSpec)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", ResourceVersion: "7"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	mutate(&c.Spec)
	return c
}

// TestPersistentVolumeClaimCreate: as upstream's strategy, a new claim is
// Pending and protected by its finalizer; a dataSource old clients could send is dropped unless it names a
// claim or a snapshot, and dataSource and dataSourceRef are filled from each other.
func TestPersistentVolumeClaimCreate(t *testing.T) {
	r := persistentVolumeClaims(kind.Options{})
	fromClaim := &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
	fromClaimRef := &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
	populator := &corev1.TypedObjectReference{APIGroup: ptr.To("example.com"), Kind: "Populator", Name: "p"}
	for _, tc := range []struct {
		name     string
		in, want *corev1.PersistentVolumeClaim
	}{
		{"no source", claim(func(*corev1.PersistentVolumeClaimSpec) {}), claim(func(*corev1.PersistentVolumeClaimSpec) {})},
		{"a claim as dataSource",
			claim(func(s *corev1.PersistentVolumeClaimSpec) { s.DataSource = fromClaim }),
			claim(func(s *corev1.PersistentVolumeClaimSpec) { s.DataSource, s.DataSourceRef = fromClaim, fromClaimRef })},
		{"a secret as dataSource is ignored",
			claim(func(s *corev1.PersistentVolumeClaimSpec) {
				s.DataSource = &corev1.TypedLocalObjectReference{Kind: "Secret", Name: "s"}
			}),
			claim(func(*corev1.PersistentVolumeClaimSpec) {})},
		{"a populator as dataSourceRef",
			claim(func(s *corev1.PersistentVolumeClaimSpec) { s.DataSourceRef = populator }),
			claim(func(s *corev1.PersistentVolumeClaimSpec) {
				s.DataSourceRef = populator
				s.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To("example.com"), Kind: "Populator", Name: "p"}
			})},
		{"a dataSourceRef into another namespace is an alpha feature",
			claim(func(s *corev1.PersistentVolumeClaimSpec) {
				s.DataSourceRef = &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptr.To("other")}
			}),
			claim(func(*corev1.PersistentVolumeClaimSpec) {})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.PrepareForCreate(tc.in)
			r.Default(tc.in)
			if errs := r.Validate(tc.in); len(errs) > 0 {
				t.Fatalf("invalid: %v", errs)
			}
			if tc.in.Status.Phase != corev1.ClaimPending {
				t.Errorf("phase %q, want Pending", tc.in.Status.Phase)
			}
			if len(tc.in.Finalizers) != 1 || tc.in.Finalizers[0] != "kubernetes.io/pvc-protection" {
				t.Errorf("finalizers %v, want the protection finalizer", tc.in.Finalizers)
			}
			if !equality.Semantic.DeepEqual(tc.in.Spec.DataSource, tc.want.Spec.DataSource) ||
				!equality.Semantic.DeepEqual(tc.in.Spec.DataSourceRef, tc.want.Spec.DataSourceRef) {
				t.Errorf("sources %+v / %+v, want %+v / %+v", tc.in.Spec.DataSource, tc.in.Spec.DataSourceRef, tc.want.Spec.DataSource, tc.want.Spec.DataSourceRef)
			}
		})
	}
}

// TestPersistentVolumeClaimUpdateKeepsStoredSource: an old client that sends
// back only dataSource keeps a source stored before, whatever it names.
func TestPersistentVolumeClaimUpdateKeepsStoredSource(t *testing.T) {
	r := persistentVolumeClaims(kind.Options{})
	src := &corev1.TypedLocalObjectReference{APIGroup: ptr.To("example.com"), Kind: "Populator", Name: "p"}
	old := claim(func(s *corev1.PersistentVolumeClaimSpec) {
		s.DataSource = src
		s.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To("example.com"), Kind: "Populator", Name: "p"}
	})
	update := claim(func(s *corev1.PersistentVolumeClaimSpec) { s.DataSource = src })
	if err := r.PrepareForUpdate(context.Background(), nil, update, old); err != nil {
		t.Fatal(err)
	}
	r.Default(update)
	r.Default(old)
	if errs := r.ValidateUpdate(update, old); len(errs) > 0 {
		t.Errorf("update refused: %v", errs)
	}
}
