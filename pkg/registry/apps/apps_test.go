package apps

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func byName(t *testing.T) map[string]*apiserver.Resource {
	t.Helper()
	out := map[string]*apiserver.Resource{}
	for _, r := range Resources(kind.Options{}) {
		out[r.Name] = r
	}
	return out
}

// TestAppsKinds checks what discovery tells kubectl about each kind, as
// upstream serves it: short names, the `all` category for workloads, the
// status and scale subresources, and whether an update must name the
// resourceVersion it read (upstream's AllowUnconditionalUpdate is true for
// every apps kind).
func TestAppsKinds(t *testing.T) {
	want := []struct {
		name, kind, singular, shortName string
		workload, scale                 bool
	}{
		{"controllerrevisions", "ControllerRevision", "controllerrevision", "", false, false},
		{"daemonsets", "DaemonSet", "daemonset", "ds", true, false},
		{"deployments", "Deployment", "deployment", "deploy", true, true},
		{"replicasets", "ReplicaSet", "replicaset", "rs", true, true},
		{"statefulsets", "StatefulSet", "statefulset", "sts", true, true},
	}
	got := Resources(kind.Options{})
	if len(got) != len(want) {
		t.Fatalf("%d kinds, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Name != w.name || r.GVK != appsv1.SchemeGroupVersion.WithKind(w.kind) || r.Singular != w.singular || !r.Namespaced {
			t.Errorf("kind %d: %s %v %s namespaced=%v, want %s", i, r.Name, r.GVK, r.Singular, r.Namespaced, w.name)
		}
		var shortNames, categories []string
		if w.shortName != "" {
			shortNames = []string{w.shortName}
		}
		if w.workload {
			categories = []string{"all"}
		}
		if !slices.Equal(r.ShortNames, shortNames) || !slices.Equal(r.Categories, categories) {
			t.Errorf("%s: short names %q categories %q, want %q %q", r.Name, r.ShortNames, r.Categories, shortNames, categories)
		}
		if r.Status != w.workload || (r.SpecChanged != nil) != w.workload || (r.ValidateStatusUpdate != nil) != w.workload {
			t.Errorf("%s: status %v, generation %v, status validation %v; want %v", r.Name, r.Status, r.SpecChanged != nil, r.ValidateStatusUpdate != nil, w.workload)
		}
		hasScale := len(r.Subresources) == 1 && r.Subresources[0].Name == "scale" && r.Subresources[0].Kind.String() == "autoscaling/v1, Kind=Scale"
		if hasScale != w.scale || (r.Scale != nil) != w.scale || (len(r.Subresources) > 0 && !hasScale) {
			t.Errorf("%s: subresources %+v, scale %v; want scale %v", r.Name, r.Subresources, r.Scale != nil, w.scale)
		}
		if r.RequireResourceVersion || r.AllowCreateOnUpdate || r.Fields != nil {
			t.Errorf("%s: requires resourceVersion %v, creates on update %v, extra fields %v", r.Name, r.RequireResourceVersion, r.AllowCreateOnUpdate, r.Fields != nil)
		}
	}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
	}
}

// created runs what the API server runs on create, failing on an invalid
// object, and returns the object as stored.
func created(t *testing.T, r *apiserver.Resource, obj runtime.Object) runtime.Object {
	t.Helper()
	if r.PrepareForCreate != nil {
		r.PrepareForCreate(obj)
	}
	r.Default(obj)
	if errs := r.Validate(obj); len(errs) > 0 {
		t.Fatalf("create: %v", errs)
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion("7")
	return obj
}

// updated runs what the API server runs on an update of the main resource,
// and reports whether metadata.generation moves.
func updated(t *testing.T, r *apiserver.Resource, obj, old runtime.Object) bool {
	t.Helper()
	if r.PrepareForUpdate != nil {
		if err := r.PrepareForUpdate(context.Background(), nil, obj, old); err != nil {
			t.Fatal(err)
		}
	}
	r.Default(obj)
	if errs := r.ValidateUpdate(obj, old); len(errs) > 0 {
		t.Fatalf("update: %v", errs)
	}
	return r.SpecChanged(obj, old)
}

// TestGeneration: as upstream's strategies, a spec change moves
// metadata.generation, a label does not, and a Deployment's annotations do
// (it copies them to its ReplicaSets) while other workloads' do not.
func TestGeneration(t *testing.T) {
	kinds := byName(t)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	for _, tc := range []struct {
		resource string
		obj      runtime.Object
	}{
		{"deployments", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.DeploymentSpec{Selector: sel, Template: podTemplate("web")}}},
		{"replicasets", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: podTemplate("web")}}},
		{"daemonsets", &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: podTemplate("web")}}},
		{"statefulsets", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.StatefulSetSpec{Selector: sel, Template: podTemplate("web")}}},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			r := kinds[tc.resource]
			old := created(t, r, tc.obj)
			accessor := func(o runtime.Object) metav1.Object { m, _ := meta.Accessor(o); return m }
			template := func(o runtime.Object) *corev1.PodTemplateSpec {
				switch o := o.(type) {
				case *appsv1.Deployment:
					return &o.Spec.Template
				case *appsv1.ReplicaSet:
					return &o.Spec.Template
				case *appsv1.DaemonSet:
					return &o.Spec.Template
				case *appsv1.StatefulSet:
					return &o.Spec.Template
				}
				return nil
			}
			for _, change := range []struct {
				name  string
				apply func(runtime.Object)
				moves bool
			}{
				{"nothing", func(runtime.Object) {}, false},
				{"a label", func(o runtime.Object) { accessor(o).SetLabels(map[string]string{"team": "a"}) }, false},
				{"a default left out", func(o runtime.Object) { template(o).Spec.DNSPolicy = "" }, false},
				{"an annotation", func(o runtime.Object) { accessor(o).SetAnnotations(map[string]string{"owner": "ops"}) }, tc.resource == "deployments"},
				{"the image", func(o runtime.Object) { template(o).Spec.Containers[0].Image = "nginx:1.28" }, true},
			} {
				upd := old.DeepCopyObject()
				change.apply(upd)
				if got := updated(t, r, upd, old); got != change.moves {
					t.Errorf("%s: generation moves %v, want %v", change.name, got, change.moves)
				}
			}
			if r.Scale != nil {
				upd := old.DeepCopyObject()
				r.Scale.Set(upd, 7)
				if spec, _, _ := r.Scale.Get(upd); spec != 7 || !updated(t, r, upd, old) {
					t.Errorf("scaling to 7: spec %d, or generation did not move", spec)
				}
			}
		})
	}
}

// TestScaleSelector: the Scale carries the selector as a label selector
// string, as upstream's, expressions and all.
func TestScaleSelector(t *testing.T) {
	d := &appsv1.Deployment{
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(3)), Selector: &metav1.LabelSelector{
			MatchLabels:      map[string]string{"app": "web"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db", "cache"}}},
		}},
		Status: appsv1.DeploymentStatus{Replicas: 2},
	}
	spec, status, selector := byName(t)["deployments"].Scale.Get(d)
	if spec != 3 || status != 2 || selector != "app=web,tier notin (cache,db)" {
		t.Errorf("scale of a deployment: %d %d %q", spec, status, selector)
	}
}

// TestDaemonSetTemplateGeneration: the template generation annotation starts
// at 1, counts template changes only, and is the server's to set.
func TestDaemonSetTemplateGeneration(t *testing.T) {
	r := byName(t)["daemonsets"]
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "-4"}},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent")},
	}
	old := created(t, r, ds).(*appsv1.DaemonSet)
	generation := func(ds *appsv1.DaemonSet) string { return ds.Annotations[appsv1.DeprecatedTemplateGeneration] }
	if g := generation(old); g != "1" {
		t.Fatalf("template generation on create = %q, want 1", g)
	}
	for _, tc := range []struct {
		name   string
		change func(*appsv1.DaemonSet)
		want   string
	}{
		{"min ready seconds", func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 5 }, "1"},
		{"a default left out", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = "" }, "1"},
		{"the annotation itself", func(ds *appsv1.DaemonSet) { ds.Annotations[appsv1.DeprecatedTemplateGeneration] = "9" }, "1"},
		{"the annotation dropped", func(ds *appsv1.DaemonSet) { ds.Annotations = nil }, "1"},
		{"the image", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "busybox" }, "2"},
	} {
		upd := old.DeepCopy()
		tc.change(upd)
		updated(t, r, upd, old)
		if g := generation(upd); g != tc.want {
			t.Errorf("%s: template generation %q, want %q", tc.name, g, tc.want)
		}
	}
}
