package apps

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/apps"
	printers "github.com/skiffhq/skiff/pkg/api/printers/apps"
	validation "github.com/skiffhq/skiff/pkg/api/validation/apps"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(daemonSets) }

// daemonSets run one pod on each node. Any spec change moves
// metadata.generation; a template change also moves the template generation,
// which apps/v1 shows in the deprecated.daemonset.template.generation
// annotation and which clients may not set: it starts at 1 and counts
// template changes, as upstream's strategy keeps it.
func daemonSets(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("DaemonSet"), "daemonsets", "daemonset", true,
		func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} },
		printers.DaemonSet())
	workload(r, "ds", rules[*appsv1.DaemonSet]{
		defaults:             defaults.DaemonSet,
		validate:             validation.ValidateDaemonSet,
		validateUpdate:       validation.ValidateDaemonSetUpdate,
		validateStatusUpdate: validation.ValidateDaemonSetStatusUpdate,
		desired:              func(ds *appsv1.DaemonSet) any { return ds.Spec },
	})
	r.PrepareForCreate = func(obj runtime.Object) {
		ds := obj.(*appsv1.DaemonSet)
		setTemplateGeneration(ds, max(templateGeneration(ds), 1))
	}
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		ds, oldDS := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
		// Compare the template as it will be stored: a client may leave out
		// what defaulting fills.
		defaults.DaemonSet(ds)
		generation := templateGeneration(oldDS)
		if !equality.Semantic.DeepEqual(ds.Spec.Template, oldDS.Spec.Template) {
			generation++
		}
		setTemplateGeneration(ds, generation)
		return nil
	}
	return r
}

// templateGeneration reads a daemon set's template generation; one stored
// without it is at 0.
func templateGeneration(ds *appsv1.DaemonSet) int64 {
	n, err := strconv.ParseInt(ds.Annotations[appsv1.DeprecatedTemplateGeneration], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func setTemplateGeneration(ds *appsv1.DaemonSet, n int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(n, 10)
}
