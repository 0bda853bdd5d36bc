package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateDeploymentName is the name rule of a deployment.
var ValidateDeploymentName corevalidation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

// ValidateDeployment validates a deployment being created.
func ValidateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&d.ObjectMeta, true, ValidateDeploymentName, metadataPath)
	return append(errs, validateDeploymentSpec(&d.Spec, specPath)...)
}

// ValidateDeploymentUpdate validates an update of a deployment: the spec as on
// create, and a selector that stays as it was, since the ReplicaSets and pods
// it owns were found by it.
func ValidateDeploymentUpdate(newD, oldD *appsv1.Deployment) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newD.ObjectMeta, &oldD.ObjectMeta, metadataPath)
	errs = append(errs, validateDeploymentSpec(&newD.Spec, specPath)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(newD.Spec.Selector, oldD.Spec.Selector, specPath.Child("selector"))...)
}

// ValidateDeploymentStatusUpdate validates a write to deployments/status.
func ValidateDeploymentStatusUpdate(newD, oldD *appsv1.Deployment) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newD.ObjectMeta, &oldD.ObjectMeta, metadataPath)
	s, p := &newD.Status, statusPath
	errs = append(errs, nonnegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, countsNonnegative(p, namedCount{"replicas", s.Replicas}, namedCount{"updatedReplicas", s.UpdatedReplicas},
		namedCount{"readyReplicas", s.ReadyReplicas}, namedCount{"availableReplicas", s.AvailableReplicas},
		namedCount{"unavailableReplicas", s.UnavailableReplicas})...)
	if s.TerminatingReplicas != nil {
		errs = append(errs, nonnegative(int64(*s.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	errs = append(errs, countsNotAbove(s.Replicas, greaterThanReplicas, p,
		namedCount{"updatedReplicas", s.UpdatedReplicas}, namedCount{"readyReplicas", s.ReadyReplicas}, namedCount{"availableReplicas", s.AvailableReplicas})...)
	errs = append(errs, countsNotAbove(s.ReadyReplicas, greaterThanReadyMsg, p, namedCount{"availableReplicas", s.AvailableReplicas})...)
	return append(errs, validateCollisionCount(s.CollisionCount, oldD.Status.CollisionCount, p.Child("collisionCount"))...)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	errs := nonnegative(int32Value(spec.Replicas), fldPath.Child("replicas"))
	errs = append(errs, validateRequiredSelector(spec.Selector, "deployment", fldPath.Child("selector"))...)
	errs = append(errs, validateReplicaSetTemplate(&spec.Template, spec.Selector, fldPath)...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	errs = append(errs, nonnegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		// Zero is valid: keep no old ReplicaSets.
		errs = append(errs, nonnegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if d := spec.ProgressDeadlineSeconds; d != nil {
		errs = append(errs, nonnegative(int64(*d), fldPath.Child("progressDeadlineSeconds"))...)
		if *d <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), d, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdateDeployment(s.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, deploymentStrategyAsUpstream(s),
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

// validateRollingUpdateDeployment: a rollout must be able to move, so
// maxUnavailable and maxSurge may not both be zero.
func validateRollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, fldPath *field.Path) field.ErrorList {
	unavailable, surge := intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge)
	errs := validatePositiveIntOrPercent(unavailable, fldPath.Child("maxUnavailable"))
	errs = append(errs, validatePositiveIntOrPercent(surge, fldPath.Child("maxSurge"))...)
	if intOrPercentValue(unavailable) == 0 && intOrPercentValue(surge) == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return append(errs, validateNotMoreThan100Percent(unavailable, fldPath.Child("maxUnavailable"))...)
}
