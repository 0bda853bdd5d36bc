package kind

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

func TestGroupResources(t *testing.T) {
	named := func(name string) Maker {
		return func(o Options) *apiserver.Resource { return &apiserver.Resource{Name: name} }
	}
	var g Group
	g.Add(named("widgets"))
	g.Add(named("gadgets"))
	first, second := g.Resources(Options{}), g.Resources(Options{})
	if len(first) != 2 || first[0].Name != "gadgets" || first[1].Name != "widgets" {
		t.Fatalf("resources %v, want gadgets then widgets", first)
	}
	if first[0] == second[0] {
		t.Error("two registries share a kind's definition")
	}

	g.Add(named("gadgets"))
	defer func() {
		if recover() == nil {
			t.Error("a kind declared twice did not panic")
		}
	}()
	g.Resources(Options{})
}

func TestOptionsWithDefaults(t *testing.T) {
	o := Options{}.WithDefaults()
	if o.ServiceCIDR.String() != "10.43.0.0/16" || o.NodePortMin != 30000 || o.NodePortMax != 32767 ||
		o.NotReadyTolerationSeconds != 300 || o.UnreachableTolerationSeconds != 300 {
		t.Errorf("defaults: %+v", o)
	}
	if set := (Options{NodePortMin: 31000, NodePortMax: 31999}).WithDefaults(); set.NodePortMin != 31000 || set.NodePortMax != 31999 {
		t.Errorf("set ports replaced: %+v", set)
	}
}

func TestHooks(t *testing.T) {
	var defaulted []string
	r := &apiserver.Resource{}
	Hooks[*corev1.ConfigMap]{
		Default: func(c *corev1.ConfigMap) { defaulted = append(defaulted, c.Name) },
		Validate: func(c *corev1.ConfigMap) field.ErrorList {
			return field.ErrorList{field.Required(field.NewPath("data"), c.Name)}
		},
		Desired: func(c *corev1.ConfigMap) any { return c.Data },
	}.Install(r)
	r.Default(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	if errs := r.Validate(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}); len(defaulted) != 1 || len(errs) != 1 || errs[0].Detail != "b" {
		t.Errorf("defaulted %q, errors %v", defaulted, errs)
	}
	if r.ValidateUpdate != nil || r.ValidateStatusUpdate != nil {
		t.Error("hooks not given were installed")
	}
	old := &corev1.ConfigMap{Data: map[string]string{"k": "v"}}
	if r.SpecChanged(old.DeepCopy(), old) || !r.SpecChanged(&corev1.ConfigMap{}, old) {
		t.Error("SpecChanged does not follow Desired")
	}
}

func TestKeepMetadataOnStatus(t *testing.T) {
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "1"}, Finalizers: []string{"f"}, Generation: 3}}
	obj := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "2"}, Annotations: map[string]string{"x": "y"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	KeepMetadataOnStatus(obj, old)
	if obj.Labels["a"] != "1" || obj.Annotations != nil || len(obj.Finalizers) != 1 || obj.Generation != 3 || obj.Status.Phase != corev1.PodRunning {
		t.Errorf("after a status write: %+v", obj)
	}
}
