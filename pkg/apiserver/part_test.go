package apiserver_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// partPod creates a burstable pod labelled app=web whose status a node wrote.
func (e *evictionEnv) partPod(name string) *corev1.Pod {
	e.t.Helper()
	p := e.pod(name, running(true))
	pods := e.client.CoreV1().Pods(evictNS)
	cur, err := pods.Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	if cur.Generation != 1 || p.Status.Phase != corev1.PodRunning {
		e.t.Fatalf("generation %d, phase %s", cur.Generation, p.Status.Phase)
	}
	return cur
}

func mustStatus(t *testing.T, err error, code int32, msg string) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != code || !strings.Contains(se.ErrStatus.Message, msg) {
		t.Fatalf("got %v, want HTTP %d saying %q", err, code, msg)
	}
}

// TestEphemeralContainersSubresource: a write to pods/ephemeralcontainers
// changes spec.ephemeralContainers alone (a label or image in the same body is
// ignored), moves the generation, keeps the status, and is validated as an
// ephemeral containers update; GET reads the whole pod.
func TestEphemeralContainersSubresource(t *testing.T) {
	e := newEvictionEnv(t)
	pods := e.client.CoreV1().Pods(evictNS)
	e.partPod("target")

	patch := `{"metadata":{"labels":{"app":"other"}},"spec":{"containers":[{"name":"c","image":"nginx"}],` +
		`"ephemeralContainers":[{"name":"debugger","image":"busybox","stdin":true,"tty":true,"targetContainerName":"c"}]}}`
	p, err := pods.Patch(e.ctx, "target", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		t.Fatal(err)
	}
	ec := p.Spec.EphemeralContainers
	if len(ec) != 1 || ec[0].TargetContainerName != "c" || ec[0].TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Fatalf("ephemeral containers %+v, want debugger, defaulted, targeting c", ec)
	}
	if p.Labels["app"] != "web" || p.Spec.Containers[0].Image != "luksa/kubia" {
		t.Errorf("the write changed labels %v or image %q", p.Labels, p.Spec.Containers[0].Image)
	}
	if p.Generation != 2 || p.Status.Phase != corev1.PodRunning {
		t.Errorf("generation %d, phase %q; want 2 and the stored Running", p.Generation, p.Status.Phase)
	}

	// GET through the subresource is the pod.
	raw, err := e.client.CoreV1().RESTClient().Get().Namespace(evictNS).Resource("pods").Name("target").SubResource("ephemeralcontainers").DoRaw(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(raw, &got); err != nil || got.Kind != "Pod" || len(got.Spec.EphemeralContainers) != 1 {
		t.Fatalf("GET ephemeralcontainers: %v %s", err, raw)
	}

	// PUT, as upstream's conformance test does, adds a second.
	got.Spec.EphemeralContainers = append(got.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger2", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}})
	p, err = pods.UpdateEphemeralContainers(e.ctx, "target", &got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.EphemeralContainers) != 2 || p.Generation != 3 {
		t.Fatalf("%d ephemeral containers, generation %d; want 2 and 3", len(p.Spec.EphemeralContainers), p.Generation)
	}
	// The resourceVersion read is a precondition.
	_, err = pods.UpdateEphemeralContainers(e.ctx, "target", &got, metav1.UpdateOptions{})
	mustStatus(t, err, 409, "the object has been modified")

	p.Spec.EphemeralContainers = p.Spec.EphemeralContainers[1:]
	_, err = pods.UpdateEphemeralContainers(e.ctx, "target", p, metav1.UpdateOptions{})
	mustStatus(t, err, 422, `existing ephemeral containers "debugger" may not be removed`)

	bad := `{"spec":{"ephemeralContainers":[{"name":"web","image":"busybox","ports":[{"containerPort":80}]}]}}`
	_, err = pods.Patch(e.ctx, "target", types.StrategicMergePatchType, []byte(bad), metav1.PatchOptions{}, "ephemeralcontainers")
	mustStatus(t, err, 422, ".ports: Forbidden: cannot be set for an Ephemeral Container")

	err = e.client.CoreV1().RESTClient().Post().Namespace(evictNS).Resource("pods").Name("target").SubResource("ephemeralcontainers").Body([]byte("{}")).Do(e.ctx).Error()
	mustStatus(t, err, 405, "")
}

// TestPartSubresourcesDiscovered: clients (kubectl debug) find them in discovery.
func TestPartSubresourcesDiscovered(t *testing.T) {
	e := newEvictionEnv(t)
	list, err := e.client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, r := range list.APIResources {
		found[r.Name] = r.Kind + " " + strings.Join(r.Verbs, ",")
	}
	for _, name := range []string{"pods/ephemeralcontainers", "pods/resize"} {
		if found[name] != "Pod get,patch,update" {
			t.Errorf("discovery lists %s as %q, want \"Pod get,patch,update\"", name, found[name])
		}
	}
}

// TestResizeSubresource: a write to pods/resize changes the containers'
// resources alone and moves the generation; the main resource refuses a
// change of resources.
func TestResizeSubresource(t *testing.T) {
	e := newEvictionEnv(t)
	pods := e.client.CoreV1().Pods(evictNS)
	p := e.partPod("web")
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	_, err := pods.Update(e.ctx, p, metav1.UpdateOptions{})
	mustStatus(t, err, 422, "pod updates may not change fields other than")

	// A best-effort pod cannot become burstable.
	_, err = pods.UpdateResize(e.ctx, "web", p, metav1.UpdateOptions{})
	mustStatus(t, err, 422, "Pod QOS Class may not change as a result of resizing")

	burstable, err := pods.Create(e.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "burstable"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
		}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patch := `{"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"150m","memory":"64Mi"},"limits":{"cpu":"300m"}}}]}}`
	p, err = pods.Patch(e.ctx, "burstable", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "resize")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Containers[0].Resources
	if r.Requests.Cpu().String() != "150m" || r.Requests.Memory().String() != "64Mi" || r.Limits.Cpu().String() != "300m" {
		t.Errorf("resources %v, want the patched ones", r)
	}
	if p.Spec.Containers[0].Image != "luksa/kubia" || p.Generation != burstable.Generation+1 {
		t.Errorf("image %q, generation %d; want the stored image and generation %d", p.Spec.Containers[0].Image, p.Generation, burstable.Generation+1)
	}
	got, err := e.client.CoreV1().RESTClient().Get().Namespace(evictNS).Resource("pods").Name("burstable").SubResource("resize").DoRaw(e.ctx)
	if err != nil || !strings.Contains(string(got), `"cpu":"300m"`) {
		t.Fatalf("GET resize: %v %s", err, got)
	}

	removeLimits := `{"spec":{"containers":[{"name":"c","resources":{"limits":null}}]}}`
	_, err = pods.Patch(e.ctx, "burstable", types.StrategicMergePatchType, []byte(removeLimits), metav1.PatchOptions{}, "resize")
	mustStatus(t, err, 422, "resource limits cannot be removed")
}

// TestNotAcceptable: an Accept header an endpoint cannot answer gets upstream's
// 406, whatever the verb; upstream's conformance test "should return a 406 for
// a backend which does not implement metadata" asks a table of an access review.
func TestNotAcceptable(t *testing.T) {
	e := newEvictionEnv(t)
	sar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}}}
	rc := e.client.AuthorizationV1().RESTClient()
	err := rc.Post().Resource("selfsubjectaccessreviews").SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Body(sar).Do(e.ctx).Error()
	mustStatus(t, err, 406, "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")

	pods := e.client.CoreV1().RESTClient()
	err = pods.Get().Namespace(evictNS).Resource("pods").SetHeader("Accept", "text/html").Do(e.ctx).Error()
	mustStatus(t, err, 406, "only the following media types are accepted")
	err = pods.Post().Namespace(evictNS).Resource("pods").SetHeader("Accept", "application/cbor").Body([]byte("{}")).Do(e.ctx).Error()
	mustStatus(t, err, 406, "only the following media types are accepted")
	// As upstream, the answer's type is settled before the object is looked
	// for; a resource the server does not have is not found.
	err = pods.Get().Namespace(evictNS).Resource("pods").Name("nope").SetHeader("Accept", "text/html").Do(e.ctx).Error()
	mustStatus(t, err, 406, "")
	err = pods.Get().Namespace(evictNS).Resource("widgets").SetHeader("Accept", "text/html").Do(e.ctx).Error()
	mustStatus(t, err, 404, "")
}

// TestSelfSubjectAccessReview: the server answers "may I?" with its own
// authorizer, and only to a create.
func TestSelfSubjectAccessReview(t *testing.T) {
	e := newEvictionEnv(t)
	reviews := e.client.AuthorizationV1().SelfSubjectAccessReviews()
	got, err := reviews.Create(e.ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "delete", Resource: "pods", Namespace: evictNS}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Status.Allowed {
		t.Errorf("an admin may not delete pods: %+v", got.Status)
	}
	_, err = reviews.Create(e.ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
	mustStatus(t, err, 422, "exactly one of nonResourceAttributes or resourceAttributes must be specified")
	err = e.client.AuthorizationV1().RESTClient().Get().Resource("selfsubjectaccessreviews").Do(e.ctx).Error()
	mustStatus(t, err, 405, "")
}

// TestWriteAnsweredAsTable: a write whose client asks for a table gets the
// object's one-row table, as upstream answers it.
func TestWriteAnsweredAsTable(t *testing.T) {
	e := newEvictionEnv(t)
	p := e.partPod("web")
	patch := []byte(`{"metadata":{"labels":{"tier":"front"}}}`)
	table := &metav1.Table{}
	err := e.client.CoreV1().RESTClient().Patch(types.MergePatchType).Namespace(evictNS).Resource("pods").Name("web").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Body(patch).Do(e.ctx).Into(table)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "web" || table.ResourceVersion == p.ResourceVersion || table.ResourceVersion == "" {
		t.Fatalf("table %+v, want one row for web at a new resourceVersion", table)
	}
}
