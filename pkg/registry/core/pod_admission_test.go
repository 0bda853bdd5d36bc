package core

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/validation"
)

// objects is what admission sees through the API server's View.
type objects map[string][]runtime.Object // "groupVersion/resource" -> objects

func (o objects) List(gv, resource string) []runtime.Object { return o[gv+"/"+resource] }

func resources(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

// conformanceLimits is the range of the LimitRange conformance test.
func conformanceLimits(namespace string) *corev1.LimitRange {
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limit-range", Namespace: namespace},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Min:            resources("cpu", "50m", "memory", "100Mi", "ephemeral-storage", "100Gi"),
			Max:            resources("cpu", "500m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			Default:        resources("cpu", "500m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			DefaultRequest: resources("cpu", "100m", "memory", "200Mi", "ephemeral-storage", "200Gi"),
		}}},
	}
	defaults.LimitRange(lr)
	return lr
}

// admissionPod is a pod as admission gets it: named, and defaulted.
func admissionPod(requests, limits corev1.ResourceList, edit func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: "pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}},
	}
	if edit != nil {
		edit(p)
	}
	defaults.Pod(p, defaults.PodOptions{})
	return p
}

// admit runs what the API server runs around a pod create: mutating
// admission, then validation (and the QoS class of the admitted spec), then
// validating admission.
func admit(view objects, p *corev1.Pod) error {
	if err := admitPod(false)(context.Background(), view, p); err != nil {
		return err
	}
	p.Status.QOSClass = validation.PodQOSClass(&p.Spec)
	if errs := validation.ValidatePod(p); len(errs) > 0 {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Pod").GroupKind(), p.Name, errs)
	}
	return checkPod(context.Background(), view, p)
}

func TestAdmitPodLimitRanger(t *testing.T) {
	view := objects{"v1/limitranges": {
		conformanceLimits("default"),
		conformanceLimits("elsewhere"),
		&corev1.LimitRange{
			ObjectMeta: metav1.ObjectMeta{Name: "pods", Namespace: "default"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypePod, Max: resources("cpu", "800m"), MaxLimitRequestRatio: resources("memory", "4"),
			}}},
		},
	}}
	sidecar := func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			Resources: corev1.ResourceRequirements{Requests: resources("cpu", "400m"), Limits: resources("cpu", "400m")}}}
	}
	tests := []struct {
		name           string
		pod            *corev1.Pod
		wantResources  *corev1.ResourceRequirements // of the first container, when admitted
		wantAnnotation string
		wantQoS        corev1.PodQOSClass
		refusal        string // the error message, when refused
	}{
		{
			name: "no resources: the defaults",
			pod:  admissionPod(nil, nil, nil),
			wantResources: &corev1.ResourceRequirements{
				Requests: resources("cpu", "100m", "memory", "200Mi", "ephemeral-storage", "200Gi"),
				Limits:   resources("cpu", "500m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			},
			wantAnnotation: "LimitRanger plugin set: cpu, ephemeral-storage, memory request for container pause; cpu, ephemeral-storage, memory limit for container pause",
			wantQoS:        corev1.PodQOSBurstable,
		},
		{
			// The conformance test's case: a limit without a request has
			// become the request before admission, so the default request
			// only fills what has neither.
			name: "partial resources merged",
			pod:  admissionPod(resources("memory", "150Mi", "ephemeral-storage", "150Gi"), resources("cpu", "300m"), nil),
			wantResources: &corev1.ResourceRequirements{
				Requests: resources("cpu", "300m", "memory", "150Mi", "ephemeral-storage", "150Gi"),
				Limits:   resources("cpu", "300m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			},
			wantAnnotation: "LimitRanger plugin set: ephemeral-storage, memory limit for container pause",
			wantQoS:        corev1.PodQOSBurstable,
		},
		{
			name:    "below min",
			pod:     admissionPod(resources("cpu", "10m", "memory", "50Mi", "ephemeral-storage", "50Gi"), nil, nil),
			refusal: `pods "web" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, minimum ephemeral-storage usage per Container is 100Gi, but request is 50Gi, minimum memory usage per Container is 100Mi, but request is 50Mi]`,
		},
		{
			// Defaults fill the limits first; a request above them is then
			// invalid, as upstream's validation after admission finds.
			name:    "above max",
			pod:     admissionPod(resources("cpu", "600m", "memory", "600Mi", "ephemeral-storage", "600Gi"), nil, nil),
			refusal: `Pod "web" is invalid`,
		},
		{
			name:    "limit above max",
			pod:     admissionPod(nil, resources("cpu", "600m"), nil),
			refusal: `pods "web" is forbidden: maximum cpu usage per Container is 500m, but limit is 600m`,
		},
		{
			name: "init containers get defaults too",
			pod: admissionPod(nil, nil, func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "setup"}}
			}),
			wantAnnotation: "LimitRanger plugin set: cpu, ephemeral-storage, memory request for container pause; cpu, ephemeral-storage, memory limit for container pause; " +
				"cpu, ephemeral-storage, memory request for init container setup; cpu, ephemeral-storage, memory limit for init container setup",
			wantQoS: corev1.PodQOSBurstable,
		},
		{
			// 500m for the app and 400m for its sidecar: 900m for the pod.
			name:    "pod total counts sidecars",
			pod:     admissionPod(nil, nil, sidecar),
			refusal: `pods "web" is forbidden: maximum cpu usage per Pod is 800m, but limit is 900m`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admit(view, tt.pod)
			if tt.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refusal) {
					t.Fatalf("admission: %v, want %q", err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("admission: %v", err)
			}
			if got := tt.pod.Annotations[limitRangerAnnotation]; got != tt.wantAnnotation {
				t.Errorf("annotation\n got: %q\nwant: %q", got, tt.wantAnnotation)
			}
			if tt.wantResources != nil && !equality.Semantic.DeepEqual(tt.pod.Spec.Containers[0].Resources, *tt.wantResources) {
				t.Errorf("resources\n got: %v\nwant: %v", tt.pod.Spec.Containers[0].Resources, *tt.wantResources)
			}
			if tt.pod.Status.QOSClass != tt.wantQoS {
				t.Errorf("QoS class %q, want %q", tt.pod.Status.QOSClass, tt.wantQoS)
			}
		})
	}
}

func TestAdmitPodLimitRatio(t *testing.T) {
	view := objects{"v1/limitranges": {&corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "ratio", Namespace: "default"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: resources("memory", "2"),
		}}},
	}}}
	err := admit(view, admissionPod(resources("memory", "100Mi"), resources("memory", "300Mi"), nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "memory max limit to request ratio per Container is 2, but provided ratio is 3.000000") {
		t.Errorf("ratio 3 against 2: %v", err)
	}
	err = admit(view, admissionPod(resources("memory", "100Mi"), nil, nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "memory max limit to request ratio per Container is 2, but no limit is specified or limit is 0") {
		t.Errorf("no limit: %v", err)
	}
	if err := admit(view, admissionPod(resources("memory", "100Mi"), resources("memory", "200Mi"), nil)); err != nil {
		t.Errorf("ratio 2 against 2: %v", err)
	}
}

func TestAdmitPodPriority(t *testing.T) {
	never := ptr.To(corev1.PreemptNever)
	classes := []runtime.Object{
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "polite"}, Value: 500, PreemptionPolicy: never},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)},
	}
	withDefault := append(append([]runtime.Object{}, classes...),
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "normal"}, Value: 10, GlobalDefault: true, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)})
	class := func(name string, priority *int32) *corev1.Pod {
		return admissionPod(nil, nil, func(p *corev1.Pod) { p.Spec.PriorityClassName, p.Spec.Priority = name, priority })
	}
	tests := []struct {
		name       string
		classes    []runtime.Object
		pod        *corev1.Pod
		wantClass  string
		want       int32
		wantPolicy corev1.PreemptionPolicy
		refusal    string
	}{
		{name: "no class and no default", classes: classes, pod: class("", nil), want: 0, wantPolicy: corev1.PreemptLowerPriority},
		{name: "the global default", classes: withDefault, pod: class("", nil), wantClass: "normal", want: 10, wantPolicy: corev1.PreemptLowerPriority},
		{name: "a named class", classes: withDefault, pod: class("high", nil), wantClass: "high", want: 1000, wantPolicy: corev1.PreemptLowerPriority},
		{name: "a class that never preempts", classes: classes, pod: class("polite", nil), wantClass: "polite", want: 500, wantPolicy: corev1.PreemptNever},
		{name: "a system class", classes: classes, pod: class("system-cluster-critical", nil), wantClass: "system-cluster-critical", want: 2000000000, wantPolicy: corev1.PreemptLowerPriority},
		{name: "the same priority given", classes: classes, pod: class("high", ptr.To(int32(1000))), wantClass: "high", want: 1000, wantPolicy: corev1.PreemptLowerPriority},
		{name: "a missing class", classes: classes, pod: class("urgent", nil),
			refusal: `pods "web" is forbidden: no PriorityClass with name urgent was found`},
		{name: "another priority given", classes: classes, pod: class("", ptr.To(int32(7))),
			refusal: `pods "web" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name`},
		{name: "another policy given", classes: classes, pod: admissionPod(nil, nil, func(p *corev1.Pod) {
			p.Spec.PriorityClassName, p.Spec.PreemptionPolicy = "high", never
		}), refusal: `pods "web" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admit(objects{"scheduling.k8s.io/v1/priorityclasses": tt.classes}, tt.pod)
			if tt.refusal != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tt.refusal {
					t.Fatalf("admission: %v\nwant: %s", err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("admission: %v", err)
			}
			spec := tt.pod.Spec
			if spec.PriorityClassName != tt.wantClass || spec.Priority == nil || *spec.Priority != tt.want ||
				spec.PreemptionPolicy == nil || *spec.PreemptionPolicy != tt.wantPolicy {
				t.Errorf("class %q priority %v policy %v, want %q %d %s", spec.PriorityClassName, ptr.Deref(spec.Priority, -1),
					ptr.Deref(spec.PreemptionPolicy, "<nil>"), tt.wantClass, tt.want, tt.wantPolicy)
			}
		})
	}
}

func TestAdmitPodUpdateKeepsPriority(t *testing.T) {
	old := admissionPod(nil, nil, func(p *corev1.Pod) {
		p.Spec.PriorityClassName, p.Spec.Priority, p.Spec.PreemptionPolicy = "high", ptr.To(int32(1000)), ptr.To(corev1.PreemptNever)
	})
	update := old.DeepCopy()
	update.Spec.Priority, update.Spec.PreemptionPolicy = nil, nil
	if err := admitPodUpdate(context.Background(), nil, update, old); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(update.Spec, old.Spec) {
		t.Errorf("priority fields not kept: %v %v", update.Spec.Priority, update.Spec.PreemptionPolicy)
	}
}
