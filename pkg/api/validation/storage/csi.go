package storage

import (
	"fmt"

	"time"

	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

const (
	csiNodeIDMaxLength = 256
	minTokenLifetime   = 10 * time.Minute
)

var (
	validateCSIDriverObjectName = apimachineryvalidation.NameIsDNSSubdomain
	fsGroupPolicies             = []string{string(storagev1.FileFSGroupPolicy), string(storagev1.NoneFSGroupPolicy), string(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)}
	lifecycleModes              = []string{string(storagev1.VolumeLifecyclePersistent), string(storagev1.VolumeLifecycleEphemeral)}
)

// ValidateCSIDriver validates a CSIDriver, after defaulting has filled the
// capabilities that must be stated.
func ValidateCSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	errs := validation.ValidateObjectMeta(&d.ObjectMeta, false, validateCSIDriverObjectName, metadataPath)
	return append(errs, validateCSIDriverSpec(&d.Spec, field.NewPath("spec"))...)
}

// ValidateCSIDriverUpdate validates an update of a CSIDriver. Whether volumes
// are attached, and which lifecycles the driver serves, are fixed: volumes in
// use were set up by them. (Upstream's path says "attachedRequired".)
func ValidateCSIDriverUpdate(d, old *storagev1.CSIDriver) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, metadataPath)
	specPath := field.NewPath("spec")
	errs = append(errs, validateCSIDriverSpec(&d.Spec, specPath)...)
	errs = append(errs, immutable(d.Spec.AttachRequired, old.Spec.AttachRequired, specPath.Child("attachedRequired"))...)
	return append(errs, immutable(d.Spec.VolumeLifecycleModes, old.Spec.VolumeLifecycleModes, specPath.Child("volumeLifecycleModes"))...)
}

func validateCSIDriverSpec(s *storagev1.CSIDriverSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, b := range []struct {
		name string
		v    *bool
	}{
		{"attachedRequired", s.AttachRequired},
		{"podInfoOnMount", s.PodInfoOnMount},
		{"storageCapacity", s.StorageCapacity},
		{"seLinuxMount", s.SELinuxMount},
		{"preventPodSchedulingIfMissing", s.PreventPodSchedulingIfMissing},
	} {
		if b.v == nil {
			errs = append(errs, field.Required(fldPath.Child(b.name), ""))
		}
	}
	if p := s.FSGroupPolicy; p != nil && !sets.New(fsGroupPolicies...).Has(string(*p)) {
		errs = append(errs, field.NotSupported(fldPath.Child("fsGroupPolicy"), *p, fsGroupPolicies))
	}
	errs = append(errs, validateTokenRequests(s.TokenRequests, fldPath.Child("tokenRequests"))...)
	for _, m := range s.VolumeLifecycleModes {
		if !sets.New(lifecycleModes...).Has(string(m)) {
			errs = append(errs, field.NotSupported(fldPath.Child("volumeLifecycleModes"), m, lifecycleModes))
		}
	}
	if p := s.NodeAllocatableUpdatePeriodSeconds; p != nil && *p < 10 {
		errs = append(errs, field.Invalid(fldPath.Child("nodeAllocatableUpdatePeriodSeconds"), *p, "must be greater than or equal to 10 seconds"))
	}
	if s.ServiceAccountTokenInSecrets != nil && len(s.TokenRequests) == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("serviceAccountTokenInSecrets"), *s.ServiceAccountTokenInSecrets,
			"serviceAccountTokenInSecrets is set but no tokenRequests are specified"))
	}
	return errs
}

// validateTokenRequests: one token per audience (at most one for the API
// server's own, ""), each living at least ten minutes.
func validateTokenRequests(reqs []storagev1.TokenRequest, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	audiences := sets.New[string]()
	for i, r := range reqs {
		p := fldPath.Index(i)
		if audiences.Has(r.Audience) {
			errs = append(errs, field.Duplicate(p.Child("audience"), r.Audience))
			continue
		}
		audiences.Insert(r.Audience)
		if r.ExpirationSeconds == nil {
			continue
		}
		if *r.ExpirationSeconds < int64(minTokenLifetime.Seconds()) {
			errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
		if *r.ExpirationSeconds > 1<<32 {
			errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	return errs
}

// ValidateCSINode validates a CSINode, which is named after its node and
// lists the drivers registered there, once each.
func ValidateCSINode(n *storagev1.CSINode) field.ErrorList {
	errs := validation.ValidateObjectMeta(&n.ObjectMeta, false, validation.ValidateNodeName, metadataPath)
	driversPath := field.NewPath("spec", "drivers")
	names := sets.New[string]()
	for i, d := range n.Spec.Drivers {
		p := driversPath.Index(i)
		errs = append(errs, validation.ValidateCSIDriverName(d.Name, p.Child("name"))...)
		switch {
		case d.NodeID == "":
			errs = append(errs, field.Required(p.Child("nodeID"), ""))
		case len(d.NodeID) > csiNodeIDMaxLength:
			errs = append(errs, field.Invalid(p.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", csiNodeIDMaxLength)))
		}
		if a := d.Allocatable; a != nil && a.Count != nil {
			errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*a.Count), p.Child("allocatable", "count"))...)
		}
		if names.Has(d.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), d.Name))
		}
		names.Insert(d.Name)
		keys := sets.New[string]()
		for _, key := range d.TopologyKeys {
			if key == "" {
				errs = append(errs, field.Required(p, key))
			}
			if keys.Has(key) {
				errs = append(errs, field.Duplicate(p, key))
			}
			keys.Insert(key)
			errs = append(errs, validation.ValidateQualifiedName(key, p)...)
		}
	}
	return errs
}

// ValidateCSINodeUpdate validates an update of a CSINode. A registered
// driver's entry is fixed but for its allocatable count, which the kubelet
// refreshes; drivers may come and go.
func ValidateCSINodeUpdate(n, old *storagev1.CSINode) field.ErrorList {
	errs := ValidateCSINode(n)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	for _, o := range old.Spec.Drivers {
		for _, d := range n.Spec.Drivers {
			if o.Name == d.Name {
				o.Allocatable, d.Allocatable = nil, nil
				errs = append(errs, immutable(d, o, field.NewPath("spec", "drivers"))...)
			}
		}
	}
	return errs
}

// ValidateCSINodeStatusUpdate validates a write to a CSINode's status. The
// storage health it reports is an alpha feature upstream, off by default,
// so only the metadata is checked.
func ValidateCSINodeStatusUpdate(n, old *storagev1.CSINode) field.ErrorList {
	return validation.ValidateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, metadataPath)
}

// ValidateCSIStorageCapacity validates a CSIStorageCapacity: the topology and
// class it was measured for, and a capacity that is not negative.
// allowInvalidLabelValues keeps a selector stored before values were checked.
func ValidateCSIStorageCapacity(c *storagev1.CSIStorageCapacity, allowInvalidLabelValues bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(&c.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, metadataPath)
	opts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidLabelValues}
	errs = append(errs, metav1validation.ValidateLabelSelector(c.NodeTopology, opts, field.NewPath("nodeTopology"))...)
	errs = append(errs, validation.ValidateName(validateClassName, c.StorageClassName, field.NewPath("storageClassName"))...)
	if c.Capacity != nil && c.Capacity.Sign() < 0 {
		errs = append(errs, field.Invalid(field.NewPath("capacity"), c.Capacity.String(), apimachineryvalidation.IsNegativeErrorMsg))
	}
	return errs
}

// ValidateCSIStorageCapacityUpdate validates an update of a
// CSIStorageCapacity. What was measured (topology and class) is fixed; only
// the measurement may change.
func ValidateCSIStorageCapacityUpdate(c, old *storagev1.CSIStorageCapacity) field.ErrorList {
	oldSelectorInvalid := len(metav1validation.ValidateLabelSelector(old.NodeTopology, metav1validation.LabelSelectorValidationOptions{}, nil)) > 0
	errs := ValidateCSIStorageCapacity(c, oldSelectorInvalid)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	if !apiequality.Semantic.DeepEqual(c.NodeTopology, old.NodeTopology) {
		errs = append(errs, field.Invalid(field.NewPath("nodeTopology"), c.NodeTopology, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	if c.StorageClassName != old.StorageClassName {
		errs = append(errs, field.Invalid(field.NewPath("storageClassName"), c.StorageClassName, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	return errs
}
