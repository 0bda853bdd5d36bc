package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateReplicaSetName is the name rule of a replica set.
var ValidateReplicaSetName corevalidation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

// ValidateReplicaSet validates a replica set being created.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&rs.ObjectMeta, true, ValidateReplicaSetName, metadataPath)
	return append(errs, validateReplicaSetSpec(&rs.Spec, specPath)...)
}

// ValidateReplicaSetUpdate validates an update of a replica set; unlike a
// replication controller's, its selector may not change.
func ValidateReplicaSetUpdate(newRS, oldRS *appsv1.ReplicaSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newRS.ObjectMeta, &oldRS.ObjectMeta, metadataPath)
	errs = append(errs, validateReplicaSetSpec(&newRS.Spec, specPath)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(newRS.Spec.Selector, oldRS.Spec.Selector, specPath.Child("selector"))...)
}

// ValidateReplicaSetStatusUpdate validates a write to replicasets/status.
func ValidateReplicaSetStatusUpdate(newRS, oldRS *appsv1.ReplicaSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newRS.ObjectMeta, &oldRS.ObjectMeta, metadataPath)
	s, p := &newRS.Status, statusPath
	errs = append(errs, countsNonnegative(p, namedCount{"replicas", s.Replicas}, namedCount{"fullyLabeledReplicas", s.FullyLabeledReplicas},
		namedCount{"readyReplicas", s.ReadyReplicas}, namedCount{"availableReplicas", s.AvailableReplicas})...)
	errs = append(errs, nonnegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	if s.TerminatingReplicas != nil {
		errs = append(errs, nonnegative(int64(*s.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	errs = append(errs, countsNotAbove(s.Replicas, greaterThanReplicas, p,
		namedCount{"fullyLabeledReplicas", s.FullyLabeledReplicas}, namedCount{"readyReplicas", s.ReadyReplicas}, namedCount{"availableReplicas", s.AvailableReplicas})...)
	return append(errs, countsNotAbove(s.ReadyReplicas, greaterThanReadyMsg, p, namedCount{"availableReplicas", s.AvailableReplicas})...)
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	errs := nonnegative(int32Value(spec.Replicas), fldPath.Child("replicas"))
	errs = append(errs, nonnegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// Upstream's message says "deployment" for a replica set too.
	errs = append(errs, validateRequiredSelector(spec.Selector, "deployment", fldPath.Child("selector"))...)
	return append(errs, validateReplicaSetTemplate(&spec.Template, spec.Selector, fldPath)...)
}
