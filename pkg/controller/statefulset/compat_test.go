package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/history"
)

// TestRevisionMatchesUpstream checks a revision against one that Kubernetes
// v1.34 wrote for the same (defaulted) template: the same bytes, the same
// hash, so a StatefulSet moved between clusters keeps its revision names.
func TestRevisionMatchesUpstream(t *testing.T) {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "default", UID: "ec335e25-1045-4216-8634-50cfbe05f3d6"},
		Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "foo"}, Annotations: map[string]string{"test": "value"}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "test", Image: "test", ImagePullPolicy: corev1.PullAlways,
					TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				}},
				DNSPolicy: corev1.DNSClusterFirst, RestartPolicy: corev1.RestartPolicyAlways,
				SchedulerName: "default-scheduler", SecurityContext: &corev1.PodSecurityContext{},
				TerminationGracePeriodSeconds: ptr.To[int64](30),
			},
		}},
	}
	const want = `{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"labels":{"app":"foo"}},` +
		`"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},` +
		`"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst",` +
		`"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}`
	rev, err := newRevision(set, 2, ptr.To[int32](0))
	if err != nil {
		t.Fatal(err)
	}
	if string(rev.Data.Raw) != want {
		t.Errorf("data:\n%s\nwant\n%s", rev.Data.Raw, want)
	}
	if rev.Name != "test-776999688b" || rev.Labels[history.HashLabel] != "776999688b" || rev.Labels["app"] != "foo" {
		t.Errorf("name %s labels %v, want test-776999688b", rev.Name, rev.Labels)
	}
}
