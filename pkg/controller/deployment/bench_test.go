package deployment_test

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/deployment"
)

// settleAlways plays a ReplicaSet controller whose pods start and become
// available at once: every ReplicaSet's status follows its spec.
func (e *env) settleAlways() {
	factory := informers.NewSharedInformerFactory(e.client, 0)
	follow := func(obj any) {
		rs := obj.(*appsv1.ReplicaSet)
		n := ptr.Deref(rs.Spec.Replicas, 1)
		if rs.Status.Replicas == n && rs.Status.AvailableReplicas == n && rs.Status.ObservedGeneration == rs.Generation {
			return
		}
		next := rs.DeepCopy()
		next.Status = appsv1.ReplicaSetStatus{
			Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			TerminatingReplicas: ptr.To[int32](0), ObservedGeneration: rs.Generation,
		}
		// A conflict means a newer version is on its way to this handler.
		_, _ = e.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(context.Background(), next, metav1.UpdateOptions{})
	}
	_, _ = factory.Apps().V1().ReplicaSets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    follow,
		UpdateFunc: func(_, cur any) { follow(cur) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	e.t.Cleanup(func() { cancel(); factory.Shutdown() })
}

// BenchmarkRollingUpdate3000 times a 25%/25% rolling update of 3,000
// replicas whose pods are available as soon as they are asked for: the
// controller's own cost, in time and in writes, with no pods to wait for.
func BenchmarkRollingUpdate3000(b *testing.B) {
	writes := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, deployment.Options{})
		e.settleAlways()
		e.createDeployment(newDeployment(3000, v1Image))
		e.waitObserved("web", rolledOut)
		before := len(e.writes())
		b.StartTimer()
		e.updateDeployment("web", func(d *appsv1.Deployment) { d.Spec.Template = template(v2Image) })
		e.waitObserved("web", func(d *appsv1.Deployment) bool { return rolledOut(d) && d.Annotations[revisionAnnotation] == "2" })
		b.StopTimer()
		writes += len(e.writes()) - before
	}
	b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
}
