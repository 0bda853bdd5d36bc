package apps

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func podTemplate(nodeSelector map[string]string, images ...string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: nodeSelector}}
	for i, image := range images {
		t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: []string{"web", "sidecar"}[i], Image: image})
	}
	return t
}

func selector(kv ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{kv[0]: kv[1]}}
}

// TestAppsPrinters checks each kind's header against upstream's
// (pkg/printers/internalversion/printers.go, -o wide columns starred) and the
// cells of a sample object, as kubectl shows them.
func TestAppsPrinters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		printer printers.Printer
		zero    runtime.Object
		columns []string
		obj     runtime.Object
		cells   []interface{}
	}{
		{"deployment", Deployment(), &appsv1.Deployment{},
			[]string{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*", "Selector*"},
			&appsv1.Deployment{
				ObjectMeta: printerstest.ObjectMeta("web", 3*time.Minute),
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(3)), Selector: &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app": "web"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front"}}},
				}, Template: podTemplate(nil, "nginx:1.27", "envoy")},
				Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1},
			},
			[]interface{}{"web", "1/3", int64(2), int64(1), "3m", "web,sidecar", "nginx:1.27,envoy", "app=web,tier in (front)"}},
		{"replicaset", ReplicaSet(), &appsv1.ReplicaSet{},
			[]string{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"},
			&appsv1.ReplicaSet{
				ObjectMeta: printerstest.ObjectMeta("web-5d8f", 2*time.Hour),
				Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(4)), Selector: selector("app", "web"), Template: podTemplate(nil, "nginx:1.27")},
				Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2},
			},
			[]interface{}{"web-5d8f", int64(4), int64(3), int64(2), "120m", "web", "nginx:1.27", "app=web"}},
		{"daemonset", DaemonSet(), &appsv1.DaemonSet{},
			[]string{"Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers*", "Images*", "Selector*"},
			&appsv1.DaemonSet{
				ObjectMeta: printerstest.ObjectMeta("agent", 50*time.Hour),
				Spec: appsv1.DaemonSetSpec{Selector: selector("app", "agent"),
					Template: podTemplate(map[string]string{"kubernetes.io/os": "linux"}, "busybox")},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 5, CurrentNumberScheduled: 4, NumberReady: 3, UpdatedNumberScheduled: 2, NumberAvailable: 1},
			},
			[]interface{}{"agent", int64(5), int64(4), int64(3), int64(2), int64(1), "kubernetes.io/os=linux", "2d2h", "web", "busybox", "app=agent"}},
		{"statefulset", StatefulSet(), &appsv1.StatefulSet{},
			[]string{"Name", "Ready", "Age", "Containers*", "Images*"},
			&appsv1.StatefulSet{
				ObjectMeta: printerstest.ObjectMeta("db", 40*time.Second),
				Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(int32(3)), Selector: selector("app", "db"), Template: podTemplate(nil, "postgres:16")},
				Status:     appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2},
			},
			[]interface{}{"db", "2/3", "40s", "web", "postgres:16"}},
		{"controllerrevision", ControllerRevision(), &appsv1.ControllerRevision{},
			[]string{"Name", "Controller", "Revision", "Age"},
			&appsv1.ControllerRevision{
				ObjectMeta: func() metav1.ObjectMeta {
					m := printerstest.ObjectMeta("db-7c9f", 10*24*time.Hour)
					m.OwnerReferences = []metav1.OwnerReference{
						{APIVersion: "v1", Kind: "Pod", Name: "not-the-controller"},
						{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr.To(true)},
					}
					return m
				}(),
				Revision: 3,
			},
			[]interface{}{"db-7c9f", "statefulset.apps/db", int64(3), "10d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			printerstest.ExpectColumns(t, tc.printer, tc.columns)
			printerstest.CheckRows(t, tc.printer, tc.zero)
			printerstest.AssertCells(t, tc.printer, tc.obj, tc.cells)
		})
	}
}

// TestAppsPrintersEdges: what upstream prints for selectors that select
// nothing or do not parse, a node selector left empty, and a revision no
// controller owns.
func TestAppsPrintersEdges(t *testing.T) {
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
	d := &appsv1.Deployment{ObjectMeta: printerstest.ObjectMeta("web", time.Minute), Spec: appsv1.DeploymentSpec{Selector: bad}}
	if got := Deployment().Cells(d, printerstest.Now)[7]; got != "<invalid>" {
		t.Errorf("deployment with a selector that does not parse: %q", got)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: printerstest.ObjectMeta("web", time.Minute)}
	if got := ReplicaSet().Cells(rs, printerstest.Now)[7]; got != "<none>" {
		t.Errorf("replica set without a selector: %q", got)
	}
	ds := &appsv1.DaemonSet{ObjectMeta: printerstest.ObjectMeta("agent", time.Minute), Spec: appsv1.DaemonSetSpec{Selector: bad}}
	if cells := DaemonSet().Cells(ds, printerstest.Now); cells[6] != "<none>" || cells[10] != "<error>" {
		t.Errorf("daemon set: node selector %q, selector %q", cells[6], cells[10])
	}
	r := &appsv1.ControllerRevision{ObjectMeta: printerstest.ObjectMeta("orphan", time.Minute)}
	if got := ControllerRevision().Cells(r, printerstest.Now)[1]; got != "<none>" {
		t.Errorf("revision without a controller: %q", got)
	}
}
