package core

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(pods) }

func pods(opts kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Pod"), "pods", "pod", true,
		func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} },
		printers.Pod())
	r.ShortNames = []string{"po"}
	r.Categories = []string{"all"}
	r.Status = true
	r.Subresources = podSubresources()
	podOpts := defaults.PodOptions{
		NotReadyTolerationSeconds:    opts.NotReadyTolerationSeconds,
		UnreachableTolerationSeconds: opts.UnreachableTolerationSeconds,
	}
	r.PrepareForCreate = func(obj runtime.Object) {
		p := obj.(*corev1.Pod)
		p.Status = corev1.PodStatus{Phase: corev1.PodPending}
	}
	r.Default = func(obj runtime.Object) {
		p := obj.(*corev1.Pod)
		defaults.Pod(p, podOpts)
		if p.Status.QOSClass == "" {
			p.Status.QOSClass = validation.PodQOSClass(&p.Spec)
		}
	}
	// metadata.generation: 1 at creation, one more per change of the spec.
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*corev1.Pod).Spec, old.(*corev1.Pod).Spec)
	}
	r.PrepareForStatusUpdate = func(obj, old runtime.Object) { keepObservedGeneration(obj.(*corev1.Pod), old.(*corev1.Pod)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidatePod(obj.(*corev1.Pod)) }
	r.Admit = admitPod(opts.ServiceAccountAdmission)
	r.BeforeCreate = checkPod
	r.PrepareForUpdate = admitPodUpdate
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		p := obj.(*corev1.Pod)
		return fields.Set{
			"spec.nodeName":            p.Spec.NodeName,
			"spec.restartPolicy":       string(p.Spec.RestartPolicy),
			"spec.schedulerName":       p.Spec.SchedulerName,
			"spec.serviceAccountName":  p.Spec.ServiceAccountName,
			"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
			"status.phase":             string(p.Status.Phase),
			"status.podIP":             p.Status.PodIP,
			"status.nominatedNodeName": p.Status.NominatedNodeName,
		}
	}
	r.Graceful = func(obj runtime.Object, requested *int64) (int64, bool) {
		p := obj.(*corev1.Pod)
		// A pod no node runs, or one that has finished, has nothing to stop.
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return 0, false
		}
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if p.Spec.TerminationGracePeriodSeconds != nil {
			grace = *p.Spec.TerminationGracePeriodSeconds
		}
		if requested != nil {
			grace = *requested
		}
		return grace, grace > 0
	}
	return r
}

func podSubresources() []apiserver.Subresource {
	return []apiserver.Subresource{
		{Name: "binding", Kind: v1.WithKind("Binding"), Verbs: []string{"create"}},
		{Name: "eviction", Kind: policyv1.SchemeGroupVersion.WithKind("Eviction"), Verbs: []string{"create"}},
		{Name: "log", Kind: v1.WithKind("Pod"), Verbs: []string{"get"}},
		{Name: "exec", Kind: v1.WithKind("PodExecOptions"), Verbs: []string{"create", "get"}},
		{Name: "attach", Kind: v1.WithKind("PodAttachOptions"), Verbs: []string{"create", "get"}},
		{Name: "portforward", Kind: v1.WithKind("PodPortForwardOptions"), Verbs: []string{"create", "get"}},
		{Name: "proxy", Kind: v1.WithKind("PodProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}},
		{Name: "ephemeralcontainers", Kind: v1.WithKind("Pod"), Verbs: []string{"get", "patch", "update"}, Part: &apiserver.Part{
			Take: func(stored, obj runtime.Object) {
				stored.(*corev1.Pod).Spec.EphemeralContainers = obj.(*corev1.Pod).Spec.EphemeralContainers
			},
			Validate: func(obj, old runtime.Object) field.ErrorList {
				return validation.ValidatePodEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
		}},
		{Name: "resize", Kind: v1.WithKind("Pod"), Verbs: []string{"get", "patch", "update"}, Part: &apiserver.Part{
			Take: func(stored, obj runtime.Object) { takeResize(stored.(*corev1.Pod), obj.(*corev1.Pod)) },
			Validate: func(obj, old runtime.Object) field.ErrorList {
				return validation.ValidatePodResize(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
		}},
	}
}

// takeResize takes the containers' resources and resize policies from a
// pods/resize write, as upstream's. A write that adds, removes, renames or
// reorders containers has its whole spec taken, for validation to refuse.
func takeResize(stored, p *corev1.Pod) {
	if !sameContainerNames(stored.Spec.Containers, p.Spec.Containers) || !sameContainerNames(stored.Spec.InitContainers, p.Spec.InitContainers) {
		stored.Spec = p.Spec
		return
	}
	for _, l := range [][2][]corev1.Container{{stored.Spec.Containers, p.Spec.Containers}, {stored.Spec.InitContainers, p.Spec.InitContainers}} {
		for i := range l[0] {
			l[0][i].Resources = l[1][i].Resources
			l[0][i].ResizePolicy = l[1][i].ResizePolicy
		}
	}
}

func sameContainerNames(a, b []corev1.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// keepObservedGeneration keeps the observedGeneration of the status and of
// its conditions when a status update leaves them out (a client that does not
// know the fields), as upstream's API server does.
func keepObservedGeneration(p, old *corev1.Pod) {
	if p.Status.ObservedGeneration == 0 {
		p.Status.ObservedGeneration = old.Status.ObservedGeneration
	}
	before := map[corev1.PodConditionType][]int64{}
	for _, c := range old.Status.Conditions {
		before[c.Type] = append(before[c.Type], c.ObservedGeneration)
	}
	for i, c := range p.Status.Conditions {
		var g int64
		if gs := before[c.Type]; len(gs) > 0 {
			g, before[c.Type] = gs[0], gs[1:]
		}
		if c.ObservedGeneration == 0 {
			p.Status.Conditions[i].ObservedGeneration = g
		}
	}
}
