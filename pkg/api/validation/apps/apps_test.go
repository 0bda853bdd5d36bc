package apps

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/apps"
	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

var (
	required      = validationtest.Required
	invalid       = validationtest.Invalid
	notSupported  = validationtest.NotSupported
	expectErrs    = validationtest.Expect
	expectMessage = validationtest.ExpectMessage
	stored        = validationtest.Stored
)

func labelsOf(app string) map[string]string { return map[string]string{"app": app} }

func template(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labelsOf(app)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

// The valid objects each test breaks one way; defaulted, as the API server
// validates them.

func deployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labelsOf("web")}, Template: template("web")},
	}
	if mutate != nil {
		mutate(d)
	}
	defaults.Deployment(d)
	return d
}

func replicaSet(mutate func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "default"},
		Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labelsOf("web")}, Template: template("web")},
	}
	if mutate != nil {
		mutate(rs)
	}
	defaults.ReplicaSet(rs)
	return rs
}

func daemonSet(mutate func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labelsOf("agent")}, Template: template("agent")},
	}
	if mutate != nil {
		mutate(ds)
	}
	defaults.DaemonSet(ds)
	return ds
}

func statefulSet(mutate func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: labelsOf("db")},
			Template:    template("db"),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	if mutate != nil {
		mutate(s)
	}
	defaults.StatefulSet(s)
	return s
}

func TestValidateDeployment(t *testing.T) {
	expectErrs(t, ValidateDeployment(deployment(nil)))
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   string // the whole message, as kubectl prints it after `is invalid: `
	}{
		{"template labels", func(d *appsv1.Deployment) { d.Spec.Template.Labels = labelsOf("db") },
			"spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(int32(-1)) },
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			"spec.selector: Invalid value: {}: empty selector is invalid for deployment"},
		{"selector value", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels["app"] = "not valid"
			d.Spec.Template.Labels["app"] = "not valid"
		}, ""},
		{"both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("0%"))}
		}, "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"},
		{"percent", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromString("120%"))}
		}, `spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%`},
		{"not a percent", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("half"))}
		}, `spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`},
		{"negative surge", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(-1))}
		}, `spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0`},
		{"recreate", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}, "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"},
		{"strategy type", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Blue" },
			`spec.strategy: Unsupported value: {"Type":"Blue","RollingUpdate":null}: supported values: "Recreate", "RollingUpdate"`},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`},
		{"deadline", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(60)) },
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"},
		{"history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To(int32(-1)) },
			"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"},
		{"progress deadline", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 600
			d.Spec.ProgressDeadlineSeconds = ptr.To(int32(600))
		}, "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"},
		{"name", func(d *appsv1.Deployment) { d.Name = "Web" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateDeployment(deployment(tc.mutate))
			if tc.want == "" {
				if len(errs) == 0 {
					t.Error("no error")
				}
				return
			}
			expectMessage(t, errs, tc.want)
		})
	}

	// A missing selector is required and, matching nothing, matches no template.
	expectErrs(t, ValidateDeployment(deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil })),
		required("spec.selector"), invalid("spec.template.metadata.labels", "`selector` does not match template `labels`"))
	// Matching a subset of the template's labels is enough.
	expectErrs(t, ValidateDeployment(deployment(func(d *appsv1.Deployment) { d.Spec.Template.Labels["tier"] = "front" })))
	// The template is a pod template: its pod spec is checked at its path.
	expectErrs(t, ValidateDeployment(deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" })),
		required("spec.template.spec.containers[0].image"))
}

func TestValidateDeploymentUpdate(t *testing.T) {
	old := deployment(nil)
	old.ObjectMeta = stored(old.ObjectMeta)

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptr.To(int32(5))
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	expectErrs(t, ValidateDeploymentUpdate(scaled, old))

	moved := old.DeepCopy()
	moved.Spec.Selector = &metav1.LabelSelector{MatchLabels: labelsOf("other")}
	moved.Spec.Template.Labels = labelsOf("other")
	expectMessage(t, ValidateDeploymentUpdate(moved, old),
		`spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable`)

	renamed := old.DeepCopy()
	renamed.Name = "other"
	expectErrs(t, ValidateDeploymentUpdate(renamed, old), invalid("metadata.name", "field is immutable"))
}

func TestValidateDeploymentStatusUpdate(t *testing.T) {
	old := deployment(nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	old.Status.CollisionCount = ptr.To(int32(2))
	upd := old.DeepCopy()
	upd.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, CollisionCount: ptr.To(int32(2))}
	expectErrs(t, ValidateDeploymentStatusUpdate(upd, old))
	upd.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 3, UnavailableReplicas: -1, CollisionCount: ptr.To(int32(1))}
	expectErrs(t, ValidateDeploymentStatusUpdate(upd, old),
		invalid("status.unavailableReplicas", "must be greater than or equal to 0"),
		invalid("status.readyReplicas", "cannot be greater than status.replicas"),
		invalid("status.availableReplicas", "cannot be greater than status.replicas"),
		invalid("status.availableReplicas", "cannot be greater than readyReplicas"),
		invalid("status.collisionCount", "cannot be decremented"))
}

func TestValidateReplicaSet(t *testing.T) {
	expectErrs(t, ValidateReplicaSet(replicaSet(nil)))
	expectErrs(t, ValidateReplicaSet(replicaSet(func(rs *appsv1.ReplicaSet) {
		rs.Spec.Replicas = ptr.To(int32(-3))
		rs.Spec.MinReadySeconds = -1
		rs.Spec.Template.Labels = labelsOf("db")
	})),
		invalid("spec.replicas", "must be greater than or equal to 0"),
		invalid("spec.minReadySeconds", "must be greater than or equal to 0"),
		invalid("spec.template.metadata.labels", "`selector` does not match template `labels`"))
	// Upstream's message names a deployment, for a replica set too.
	expectMessage(t, ValidateReplicaSet(replicaSet(func(rs *appsv1.ReplicaSet) {
		rs.Spec.Selector = &metav1.LabelSelector{}
	})), "spec.selector: Invalid value: {}: empty selector is invalid for deployment")
	expectErrs(t, ValidateReplicaSet(replicaSet(func(rs *appsv1.ReplicaSet) {
		rs.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
	})), invalid("spec.selector.matchExpressions[0].operator", "not a valid selector operator"), invalid("spec.selector", "invalid label selector"))

	old := replicaSet(nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Spec.Replicas = ptr.To(int32(0))
	expectErrs(t, ValidateReplicaSetUpdate(upd, old))
	upd.Spec.Selector.MatchLabels["tier"] = "front"
	upd.Spec.Template.Labels["tier"] = "front"
	expectErrs(t, ValidateReplicaSetUpdate(upd, old), invalid("spec.selector", "field is immutable"))

	old.Status = appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2}
	st := old.DeepCopy()
	st.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: -1}
	expectErrs(t, ValidateReplicaSetStatusUpdate(st, old),
		invalid("status.observedGeneration", "must be greater than or equal to 0"),
		invalid("status.fullyLabeledReplicas", "cannot be greater than status.replicas"))
}

func TestValidateDaemonSet(t *testing.T) {
	expectErrs(t, ValidateDaemonSet(daemonSet(nil)))
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   string
	}{
		{"template labels", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Labels = labelsOf("web") },
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"},
		{"both zero", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0))}
		}, "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"},
		{"both set", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromString("10%"))}
		}, `spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "10%": may not be set when maxUnavailable is non-zero`},
		{"strategy type", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Blue" },
			`spec.updateStrategy: Unsupported value: {"Type":"Blue","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete"`},
		{"empty selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} },
			"spec.selector: Invalid value: {}: empty selector is invalid for daemonset"},
		{"deadline", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(60)) },
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"},
		// A missing selector is not required, only matches no template.
		{"no selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			"spec.template.metadata.labels: Invalid value: {\"app\":\"agent\"}: `selector` does not match template `labels`"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidateDaemonSet(daemonSet(tc.mutate)), tc.want) })
	}

	old := daemonSet(nil)
	old.ObjectMeta = stored(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	expectErrs(t, ValidateDaemonSetUpdate(upd, old))
	upd.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent", "v": "2"}}
	upd.Spec.Template.Labels["v"] = "2"
	expectErrs(t, ValidateDaemonSetUpdate(upd, old), invalid("spec.selector", "field is immutable"))

	st := old.DeepCopy()
	st.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, NumberReady: -1}
	expectErrs(t, ValidateDaemonSetStatusUpdate(st, old), invalid("status.numberReady", "must be greater than or equal to 0"))
}

func TestValidateStatefulSet(t *testing.T) {
	expectErrs(t, ValidateStatefulSet(statefulSet(nil)))
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   string
	}{
		{"name", func(s *appsv1.StatefulSet) { s.Name = "Db" },
			`metadata.name: Invalid value: "Db": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"template labels", func(s *appsv1.StatefulSet) { s.Spec.Template.Labels = labelsOf("web") },
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"},
		{"negative replicas", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To(int32(-1)) },
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		{"service name", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "DB" },
			`spec.serviceName: Invalid value: "DB": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"pod management", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`},
		{"strategy type", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Blue" },
			`spec.updateStrategy: Invalid value: {"Type":"Blue","RollingUpdate":null}: must be 'RollingUpdate' or 'OnDelete'`},
		{"on delete", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(2))}}
		}, `spec.updateStrategy.rollingUpdate: Invalid value: {"Partition":2,"MaxUnavailable":null}: only allowed for updateStrategy 'RollingUpdate'`},
		{"recreate", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.RecreateStatefulSetStrategyType },
			`spec.updateStrategy: Invalid value: {"Type":"Recreate","RollingUpdate":null}: must be 'RollingUpdate' or 'OnDelete'`},
		{"partition", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(-1))}
		}, "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"},
		{"max unavailable", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: ptr.To(intstr.FromString("0%"))}
		}, `spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0%": cannot be 0`},
		{"retention", func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Keep"}
		}, `spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: "Keep": supported values: "Retain", "Delete"`},
		{"ordinals", func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1} },
			"spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"},
		{"claim size", func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests = nil },
			"spec.volumeClaimTemplates[0].spec.resources[storage]: Required value"},
		{"claim modes", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany}
		}, "spec.volumeClaimTemplates[0].spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"},
		{"deadline", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(60)) },
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidateStatefulSet(statefulSet(tc.mutate)), tc.want) })
	}

	// The controller sets each pod's hostname and subdomain, and mounts its
	// claims: a template may leave those to it, or name them anyhow.
	expectErrs(t, ValidateStatefulSet(statefulSet(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Hostname = "Not A Label"
		s.Spec.ServiceName = ""
	})))
	expectErrs(t, ValidateStatefulSet(statefulSet(func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = nil
	})), validationtest.NotFound("spec.template.spec.containers[0].volumeMounts[0].name"))
	// Upstream reports an invalid template label twice.
	expectErrs(t, ValidateStatefulSet(statefulSet(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Labels["tier"] = "not valid"
	})), invalid("spec.template.labels", "a valid label must be"), invalid("spec.template.labels", "a valid label must be"))
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	old := statefulSet(nil)
	old.ObjectMeta = stored(old.ObjectMeta)

	// What may change: replicas, ordinals, template, update strategy, claim
	// retention and minReadySeconds.
	upd := old.DeepCopy()
	upd.Spec.Replicas = ptr.To(int32(3))
	upd.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
	upd.Spec.Template.Spec.Containers[0].Image = "postgres:17"
	upd.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	upd.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	upd.Spec.MinReadySeconds = 10
	expectErrs(t, ValidateStatefulSetUpdate(upd, old))

	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   string
	}{
		{"service name", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" },
			`spec.serviceName: Invalid value: "other"`},
		{"pod management", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
			`spec.podManagementPolicy: Invalid value: "Parallel"`},
		{"selector", func(s *appsv1.StatefulSet) {
			s.Spec.Selector = &metav1.LabelSelector{MatchLabels: labelsOf("other")}
			s.Spec.Template.Labels = labelsOf("other")
		}, `spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable`},
		{"claim templates", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, "spec.volumeClaimTemplates: Invalid value: [{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upd := old.DeepCopy()
			tc.mutate(upd)
			// The claim templates' bad value is long: only its start is compared.
			errs := ValidateStatefulSetUpdate(upd, old)
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) || !strings.HasSuffix(errs[0].Error(), ": field is immutable") {
				t.Errorf("got %v\nwant one error: %s...: field is immutable", errs, tc.want)
			}
		})
	}

	// A set stored before a rule was tightened keeps what it has: an invalid
	// service name, and a template that no longer passes (only its labels are
	// checked).
	legacy := old.DeepCopy()
	legacy.Spec.ServiceName = "DB"
	legacy.Spec.Template.Spec.DNSPolicy = "Public"
	upd = legacy.DeepCopy()
	upd.Spec.Replicas = ptr.To(int32(2))
	expectErrs(t, ValidateStatefulSetUpdate(upd, legacy))

	st := old.DeepCopy()
	st.Status = appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 2}
	expectErrs(t, ValidateStatefulSetStatusUpdate(st, old),
		invalid("status.availableReplicas", "cannot be greater than status.replicas"),
		invalid("status.availableReplicas", "cannot be greater than status.readyReplicas"))
}

func TestValidateControllerRevision(t *testing.T) {
	revision := func(data string, n int64) *appsv1.ControllerRevision {
		r := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-7c9f", Namespace: "default"}, Revision: n}
		if data != "" {
			r.Data = runtime.RawExtension{Raw: []byte(data)}
		}
		return r
	}
	expectErrs(t, ValidateControllerRevision(revision(`{"spec":{"template":{}}}`, 1)))
	expectMessage(t, ValidateControllerRevision(revision("", 1)), "data: Required value: data is mandatory")
	expectMessage(t, ValidateControllerRevision(revision("null", 1)), "data: Required value: data is mandatory")
	expectMessage(t, ValidateControllerRevision(revision("[1]", 1)), "data: Required value: data must be a valid JSON object")
	expectMessage(t, ValidateControllerRevision(revision("{", 1)), `data: Invalid value: "<value omitted>": error parsing data: unexpected end of JSON input`)
	expectMessage(t, ValidateControllerRevision(revision("{}", -1)), "revision: Invalid value: -1: must be greater than or equal to 0")

	old := revision(`{"spec":{"a":1}}`, 1)
	old.ObjectMeta = stored(old.ObjectMeta)
	// The revision number may change (a rollback renumbers a revision), and
	// the same data spaced otherwise is the same data.
	upd := old.DeepCopy()
	upd.Revision = 3
	upd.Data.Raw = []byte(`{ "spec": { "a": 1 } }`)
	expectErrs(t, ValidateControllerRevisionUpdate(upd, old))
	upd.Data.Raw = []byte(`{"spec":{"a":2}}`)
	expectMessage(t, ValidateControllerRevisionUpdate(upd, old), `data: Invalid value: {"spec":{"a":2}}: field is immutable`)
}
