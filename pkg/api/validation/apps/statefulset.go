package apps

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateStatefulSetName is the name rule of a stateful set: a DNS label,
// because its pods are named after it and their names are hostnames.
var ValidateStatefulSetName corevalidation.NameFunc = apimachineryvalidation.NameIsDNSLabel

// statefulSetOptions are upstream's StatefulSetValidationOptions: what an
// update tolerates in what was stored before a rule was tightened.
type statefulSetOptions struct {
	allowInvalidServiceName bool
	skipTemplate            bool
	skipClaimTemplates      bool
	// allowRecreate admits the Recreate update strategy: upstream's alpha
	// StatefulSetRecreateStrategy gate is off, so only a stored set that
	// already has it may keep it.
	allowRecreate bool
}

// ValidateStatefulSet validates a stateful set being created.
func ValidateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&s.ObjectMeta, true, ValidateStatefulSetName, metadataPath)
	return append(errs, validateStatefulSetSpec(&s.Spec, specPath, statefulSetOptions{})...)
}

// ValidateStatefulSetUpdate validates an update of a stateful set. Its
// selector, claim templates, service name and pod management policy identify
// the pods and volumes it has made, so they may not change; replicas,
// ordinals, template, update strategy, claim retention and minReadySeconds may.
// The name is not checked again, nor the template when the stored set's
// already broke today's rules.
func ValidateStatefulSetUpdate(newS, oldS *appsv1.StatefulSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newS.ObjectMeta, &oldS.ObjectMeta, metadataPath)
	opts := statefulSetOptions{
		allowInvalidServiceName: true,
		skipClaimTemplates:      true,
		allowRecreate:           oldS.Spec.UpdateStrategy.Type == appsv1.RecreateStatefulSetStrategyType,
	}
	if len(validateStatefulSetSpec(&oldS.Spec, nil, opts)) > 0 {
		opts.skipTemplate = true
	}
	errs = append(errs, validateStatefulSetSpec(&newS.Spec, specPath, opts)...)
	for _, f := range []struct {
		name     string
		new, old any
	}{
		{"selector", newS.Spec.Selector, oldS.Spec.Selector},
		{"volumeClaimTemplates", newS.Spec.VolumeClaimTemplates, oldS.Spec.VolumeClaimTemplates},
		{"serviceName", newS.Spec.ServiceName, oldS.Spec.ServiceName},
		{"podManagementPolicy", newS.Spec.PodManagementPolicy, oldS.Spec.PodManagementPolicy},
	} {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(f.new, f.old, specPath.Child(f.name))...)
	}
	return errs
}

// ValidateStatefulSetStatusUpdate validates a write to statefulsets/status.
func ValidateStatefulSetStatusUpdate(newS, oldS *appsv1.StatefulSet) field.ErrorList {
	s, p := &newS.Status, statusPath
	errs := countsNonnegative(p, namedCount{"replicas", s.Replicas}, namedCount{"readyReplicas", s.ReadyReplicas},
		namedCount{"currentReplicas", s.CurrentReplicas}, namedCount{"updatedReplicas", s.UpdatedReplicas},
		namedCount{"availableReplicas", s.AvailableReplicas})
	errs = append(errs, nonnegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, countsNotAbove(s.Replicas, greaterThanReplicas, p,
		namedCount{"readyReplicas", s.ReadyReplicas}, namedCount{"currentReplicas", s.CurrentReplicas},
		namedCount{"updatedReplicas", s.UpdatedReplicas}, namedCount{"availableReplicas", s.AvailableReplicas})...)
	errs = append(errs, countsNotAbove(s.ReadyReplicas, "cannot be greater than status.readyReplicas", p,
		namedCount{"availableReplicas", s.AvailableReplicas})...)
	errs = append(errs, corevalidation.ValidateObjectMetaUpdate(&newS.ObjectMeta, &oldS.ObjectMeta, metadataPath)...)
	return append(errs, validateCollisionCount(s.CollisionCount, oldS.Status.CollisionCount, p.Child("collisionCount"))...)
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path, opts statefulSetOptions) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"), opts.allowRecreate)...)
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		retention := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetentionPolicyType(p.WhenDeleted, retention.Child("whenDeleted"))...)
		errs = append(errs, validateRetentionPolicyType(p.WhenScaled, retention.Child("whenScaled"))...)
	}
	if !opts.skipClaimTemplates {
		for i := range spec.VolumeClaimTemplates {
			errs = append(errs, validateClaimSpec(&spec.VolumeClaimTemplates[i].Spec, fldPath.Child("volumeClaimTemplates").Index(i).Child("spec"))...)
		}
	}
	errs = append(errs, nonnegative(int32Value(spec.Replicas), fldPath.Child("replicas"))...)
	errs = append(errs, nonnegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonnegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	if !opts.allowInvalidServiceName && spec.ServiceName != "" {
		errs = append(errs, corevalidation.ValidateDNS1123Label(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	errs = append(errs, validateRequiredSelector(spec.Selector, "statefulset", fldPath.Child("selector"))...)
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(fldPath.Child("selector"), spec.Selector, ""))
	} else {
		t := templateAsStamped(spec)
		templatePath := fldPath.Child("template")
		errs = append(errs, validateTemplateSelected(t, selector, templatePath)...)
		if !opts.skipTemplate {
			errs = append(errs, corevalidation.ValidatePodTemplateSpec(t, templatePath)...)
		}
		// Upstream checks the template's labels and annotations a second
		// time here, so an invalid one is reported twice, as kubectl shows.
		errs = append(errs, metav1validation.ValidateLabels(t.Labels, templatePath.Child("labels"))...)
		errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, templatePath.Child("annotations"))...)
	}
	return append(errs, validateRestartsForever(&spec.Template.Spec, "StatefulSet", fldPath.Child("template", "spec"))...)
}

// templateAsStamped is the template as the controller makes pods of it: it
// sets each pod's hostname and subdomain itself, and adds a volume for each
// claim template, so the template's containers may mount those.
func templateAsStamped(spec *appsv1.StatefulSetSpec) *corev1.PodTemplateSpec {
	t := &spec.Template
	if t.Spec.Subdomain == "" && t.Spec.Hostname == "" && len(spec.VolumeClaimTemplates) == 0 {
		return t
	}
	t = t.DeepCopy()
	t.Spec.Subdomain, t.Spec.Hostname = "", ""
	if len(spec.VolumeClaimTemplates) == 0 {
		return t
	}
	claims := map[string]bool{}
	var volumes []corev1.Volume
	for _, c := range spec.VolumeClaimTemplates {
		if !claims[c.Name] {
			claims[c.Name] = true
			volumes = append(volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
	}
	for _, v := range t.Spec.Volumes {
		if !claims[v.Name] {
			volumes = append(volumes, v)
		}
	}
	t.Spec.Volumes = volumes
	return t
}

func validateStatefulSetUpdateStrategy(s *appsv1.StatefulSetUpdateStrategy, fldPath *field.Path, allowRecreate bool) field.ErrorList {
	onlyForRollingUpdate := func() field.ErrorList {
		if s.RollingUpdate == nil {
			return nil
		}
		return field.ErrorList{field.Invalid(fldPath.Child("rollingUpdate"), statefulSetRollingUpdateAsUpstream(s.RollingUpdate),
			fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType))}
	}
	switch {
	case s.Type == "":
		return field.ErrorList{field.Required(fldPath, "")}
	case s.Type == appsv1.OnDeleteStatefulSetStrategyType:
		return onlyForRollingUpdate()
	case s.Type == appsv1.RollingUpdateStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return validateRollingUpdateStatefulSet(s.RollingUpdate, fldPath.Child("rollingUpdate"))
		}
	case s.Type == appsv1.RecreateStatefulSetStrategyType && allowRecreate:
		return onlyForRollingUpdate()
	default:
		return field.ErrorList{field.Invalid(fldPath, statefulSetStrategyAsUpstream(s),
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType))}
	}
	return nil
}

func validateRollingUpdateStatefulSet(ru *appsv1.RollingUpdateStatefulSetStrategy, fldPath *field.Path) field.ErrorList {
	errs := nonnegative(int32Value(ru.Partition), fldPath.Child("partition"))
	if ru.MaxUnavailable != nil {
		p := fldPath.Child("maxUnavailable")
		errs = append(errs, validatePositiveIntOrPercent(*ru.MaxUnavailable, p)...)
		if intOrPercentValue(*ru.MaxUnavailable) == 0 {
			errs = append(errs, field.Invalid(p, *ru.MaxUnavailable, "cannot be 0"))
		}
		errs = append(errs, validateNotMoreThan100Percent(*ru.MaxUnavailable, p)...)
	}
	return errs
}

func validateRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, fldPath *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, t, []appsv1.PersistentVolumeClaimRetentionPolicyType{
		appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType})}
}
