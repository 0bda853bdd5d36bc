package patch

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// benchPod is a pod as a Deployment makes it: three containers with env,
// mounts, ports and resources, the JSON the server patches.
func benchPod() []byte {
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-7d4b9c8f6d-x2x9k", Namespace: "default", UID: "0d7f3c3e-8a51-4c1b-9b0e-3f1f2d7c9a10",
			ResourceVersion: "12345", Labels: map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6d"},
			Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4b9c8f6d", UID: "1d7f3c3e-8a51-4c1b-9b0e-3f1f2d7c9a10"}},
		},
		Spec: corev1.PodSpec{NodeName: "node-1", Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
	}
	for i := range 3 {
		c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("registry.example/app%d:1.2.3", i),
			Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8080 + i), Protocol: corev1.ProtocolTCP}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}
		for j := range 8 {
			c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("VAR_%d", j), Value: fmt.Sprintf("value-%d", j)})
		}
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	out, err := json.Marshal(pod)
	if err != nil {
		panic(err)
	}
	return out
}

// benchPatches are what kubectl sends for everyday commands.
var benchPatches = []struct {
	name  string
	pt    types.PatchType
	patch string
}{
	{"label", types.MergePatchType, `{"metadata":{"labels":{"tier":"frontend"}}}`},
	{"annotate", types.MergePatchType, `{"metadata":{"annotations":{"note":"checked"}}}`},
	{"set-image", types.StrategicMergePatchType, `{"spec":{"containers":[{"name":"c1","image":"registry.example/app1:1.2.4"}]}}`},
	{"apply", types.StrategicMergePatchType, `{"metadata":{"annotations":{"note":"applied"}},"spec":{"$setElementOrder/containers":[{"name":"c0"},{"name":"c1"},{"name":"c2"}],` +
		`"containers":[{"$setElementOrder/env":[{"name":"VAR_0"},{"name":"NEW"},{"name":"VAR_1"},{"name":"VAR_2"},{"name":"VAR_3"},{"name":"VAR_4"},{"name":"VAR_5"},{"name":"VAR_6"},{"name":"VAR_7"}],` +
		`"env":[{"name":"NEW","value":"x"}],"name":"c2"}]}}`},
	{"json-patch", types.JSONPatchType, `[{"op":"test","path":"/metadata/resourceVersion","value":"12345"},{"op":"replace","path":"/spec/containers/0/image","value":"x:2"},` +
		`{"op":"add","path":"/metadata/labels/tier","value":"frontend"},{"op":"remove","path":"/metadata/annotations"}]`},
}

// BenchmarkApply compares Apply with the applyPatch it replaces on everyday
// patches of a pod: Apply must be no slower.
func BenchmarkApply(b *testing.B) {
	pod := benchPod()
	for _, bp := range benchPatches {
		want, err := legacyApply(bp.pt, pod, []byte(bp.patch), &corev1.Pod{})
		if err != nil {
			b.Fatalf("%s: %v", bp.name, err)
		}
		if got, err := Apply(context.Background(), bp.pt, pod, []byte(bp.patch), &corev1.Pod{}); err != nil || string(got) != string(want) {
			b.Fatalf("%s: Apply answered %s, %v; applyPatch %s", bp.name, got, err, want)
		}
		b.Run(bp.name+"/legacy", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := legacyApply(bp.pt, pod, []byte(bp.patch), &corev1.Pod{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bp.name+"/patch", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := Apply(ctx, bp.pt, pod, []byte(bp.patch), &corev1.Pod{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
