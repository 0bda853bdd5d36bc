package core

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// runtimeClasses is the RuntimeClasses admission sees, as the API server's View.
type runtimeClasses []*nodev1.RuntimeClass

func (s runtimeClasses) List(gv, resource string) []runtime.Object {
	if gv != "node.k8s.io/v1" || resource != "runtimeclasses" {
		return nil
	}
	var out []runtime.Object
	for _, rc := range s {
		out = append(out, rc)
	}
	return out
}

func TestAdmitRuntimeClass(t *testing.T) {
	overhead := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}
	sandbox := corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "runsc", Effect: corev1.TaintEffectNoSchedule}
	view := runtimeClasses{
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Handler: "runc"},
		{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc",
			Overhead: &nodev1.Overhead{PodFixed: overhead},
			Scheduling: &nodev1.Scheduling{
				NodeSelector: map[string]string{"sandbox": "runsc", "kubernetes.io/os": "linux"},
				Tolerations:  []corev1.Toleration{sandbox},
			}},
	}
	pod := func(runtimeClass string, edit func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}}
		if runtimeClass != "" {
			p.Spec.RuntimeClassName = ptr.To(runtimeClass)
		}
		if edit != nil {
			edit(&p.Spec)
		}
		return p
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		want    *corev1.PodSpec // the spec after admission, when admitted
		refusal string          // the Forbidden message, when refused
	}{
		{name: "no RuntimeClass", pod: pod("", nil), want: &corev1.PodSpec{}},
		{name: "missing RuntimeClass", pod: pod("kata", nil),
			refusal: `pods "web" is forbidden: pod rejected: RuntimeClass "kata" not found`},
		{name: "missing RuntimeClass, generated name",
			pod:     &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}, Spec: corev1.PodSpec{RuntimeClassName: ptr.To("kata")}},
			refusal: `pods "web-" is forbidden: pod rejected: RuntimeClass "kata" not found`},
		{name: "RuntimeClass without overhead or scheduling", pod: pod("plain", nil),
			want: &corev1.PodSpec{RuntimeClassName: ptr.To("plain")}},
		{name: "overhead without a RuntimeClass", pod: pod("", func(s *corev1.PodSpec) { s.Overhead = overhead }),
			refusal: `pods "web" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead`},
		{name: "overhead a RuntimeClass does not define", pod: pod("plain", func(s *corev1.PodSpec) { s.Overhead = overhead }),
			refusal: `pods "web" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead`},
		{name: "overhead that differs", pod: pod("gvisor", func(s *corev1.PodSpec) {
			s.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}), refusal: `pods "web" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`},
		{name: "node selector that conflicts", pod: pod("gvisor", func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{"sandbox": "kata"}
		}), refusal: `pods "web" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = runsc; pod.spec.nodeSelector[sandbox] = kata`},
		{name: "overhead, node selector and tolerations added", pod: pod("gvisor", nil), want: &corev1.PodSpec{
			RuntimeClassName: ptr.To("gvisor"),
			Overhead:         overhead,
			NodeSelector:     map[string]string{"sandbox": "runsc", "kubernetes.io/os": "linux"},
			Tolerations:      []corev1.Toleration{sandbox},
		}},
		{name: "merged with what the pod has", pod: pod("gvisor", func(s *corev1.PodSpec) {
			// The same overhead written differently is the same overhead.
			s.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.25"), corev1.ResourceMemory: resource.MustParse("120Mi")}
			s.NodeSelector = map[string]string{"sandbox": "runsc", "disk": "ssd"}
			s.Tolerations = []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(300))},
				sandbox,
			}
		}), want: &corev1.PodSpec{
			RuntimeClassName: ptr.To("gvisor"),
			Overhead:         corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.25"), corev1.ResourceMemory: resource.MustParse("120Mi")},
			NodeSelector:     map[string]string{"sandbox": "runsc", "disk": "ssd", "kubernetes.io/os": "linux"},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(300))},
				sandbox,
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admitRuntimeClass(context.Background(), view, tt.pod)
			if tt.refusal != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tt.refusal {
					t.Fatalf("got %v, want Forbidden: %s", err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !equalSpecs(&tt.pod.Spec, tt.want) {
				t.Errorf("spec after admission\n got: %+v\nwant: %+v", tt.pod.Spec, *tt.want)
			}
		})
	}

	// The pod gets a copy: changing it does not change the stored class.
	p := pod("gvisor", nil)
	if err := admitRuntimeClass(context.Background(), view, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Overhead[corev1.ResourceCPU] = resource.MustParse("2")
	p.Spec.NodeSelector["sandbox"] = "changed"
	if q := view[1].Overhead.PodFixed[corev1.ResourceCPU]; q.String() != "250m" || view[1].Scheduling.NodeSelector["sandbox"] != "runsc" {
		t.Errorf("admission handed the pod the stored RuntimeClass's maps: %v", view[1])
	}
}

func equalSpecs(a, b *corev1.PodSpec) bool {
	return reflect.DeepEqual(a.NodeSelector, b.NodeSelector) && reflect.DeepEqual(a.Tolerations, b.Tolerations) &&
		reflect.DeepEqual(a.RuntimeClassName, b.RuntimeClassName) && quantitiesEqual(a.Overhead, b.Overhead)
}

func quantitiesEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for name, q := range a {
		if other, ok := b[name]; !ok || q.Cmp(other) != 0 {
			return false
		}
	}
	return true
}

func TestMergeTolerations(t *testing.T) {
	noExec := func(key string, seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	all := corev1.Toleration{Operator: corev1.TolerationOpExists}
	fooBar := corev1.Toleration{Key: "foo", Operator: corev1.TolerationOpEqual, Value: "bar", Effect: corev1.TaintEffectNoSchedule}
	fooAny := corev1.Toleration{Key: "foo", Operator: corev1.TolerationOpExists}
	tests := []struct {
		name      string
		have, add []corev1.Toleration
		want      []corev1.Toleration
	}{
		{"disjoint", []corev1.Toleration{fooBar}, []corev1.Toleration{noExec("x", nil)}, []corev1.Toleration{fooBar, noExec("x", nil)}},
		{"equal ones kept once", []corev1.Toleration{fooBar}, []corev1.Toleration{fooBar}, []corev1.Toleration{fooBar}},
		{"a later superset replaces", []corev1.Toleration{fooBar}, []corev1.Toleration{fooAny}, []corev1.Toleration{fooAny}},
		{"an earlier superset covers", []corev1.Toleration{fooAny}, []corev1.Toleration{fooBar}, []corev1.Toleration{fooAny}},
		{"empty key Exists covers every key", []corev1.Toleration{fooBar, noExec("x", nil)}, []corev1.Toleration{all}, []corev1.Toleration{all}},
		{"longer tolerationSeconds covers shorter", []corev1.Toleration{noExec("x", ptr.To(int64(300)))}, []corev1.Toleration{noExec("x", ptr.To(int64(600)))},
			[]corev1.Toleration{noExec("x", ptr.To(int64(600)))}},
		{"forever covers bounded", []corev1.Toleration{noExec("x", nil)}, []corev1.Toleration{noExec("x", ptr.To(int64(60)))},
			[]corev1.Toleration{noExec("x", nil)}},
		{"other effect not covered", []corev1.Toleration{fooBar}, []corev1.Toleration{{Key: "foo", Operator: corev1.TolerationOpEqual, Value: "bar", Effect: corev1.TaintEffectNoExecute}},
			[]corev1.Toleration{fooBar, {Key: "foo", Operator: corev1.TolerationOpEqual, Value: "bar", Effect: corev1.TaintEffectNoExecute}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeTolerations(tt.have, tt.add); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
