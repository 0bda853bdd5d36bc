package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// pvcManifest is a claim for a gigabyte of the "manual" class and a hostPath
// volume of that class, named after suffix: volumes are cluster-wide, and
// every kubectl version runs at once.
func pvcManifest(suffix, label string) string {
	return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  labels:
    tier: ` + label + `
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: host-` + suffix + `
spec:
  capacity:
    storage: 5Gi
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  storageClassName: manual
  hostPath:
    path: /srv/` + suffix + `
`
}

// TestPVCWithKubectl serves claims and volumes to every kubectl: discovery
// with short names, explain, apply of a claim and a hostPath volume with
// upstream's defaults, the tables of both (and -o wide), a claim bound by
// hand through the status subresource as a binder would, invalid input
// refused in upstream's words with nothing stored, the spec's immutability,
// and delete held by the protection finalizers. No controller runs: only the
// API is under test.
func TestPVCWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			suffix := strings.ReplaceAll(k.Version, ".", "-")
			ns := "pvc-" + suffix
			pv := "host-" + suffix
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", append(args, "-n", ns)...) }
			fail := func(args ...string) string {
				t.Helper()
				out, errOut, err := c.Run(k, "", append(args, "-n", ns)...)
				if err == nil {
					t.Fatalf("kubectl %s should fail; stdout:\n%s", strings.Join(args, " "), out)
				}
				return errOut
			}
			jsonpath := func(resource, path string) string {
				t.Helper()
				return run("get", resource, "-o", "jsonpath={"+path+"}")
			}
			run("create", "namespace", ns)

			resources := c.MustRun(t, k, "", "api-resources", "--api-group=")
			for _, want := range [][]string{
				{"persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"},
				{"persistentvolumes", "pv", "v1", "false", "PersistentVolume"},
			} {
				if !hasLine(resources, want...) {
					t.Fatalf("api-resources lacks %q:\n%s", want, resources)
				}
			}
			mustContain(t, "explain pvc.spec", c.MustRun(t, k, "", "explain", "pvc.spec"),
				"PersistentVolumeClaim", "accessModes", "dataSourceRef", "storageClassName", "volumeMode")
			mustContain(t, "explain pv.spec.hostPath", c.MustRun(t, k, "", "explain", "pv.spec.hostPath"),
				"PersistentVolume", "path", "type")

			mustContain(t, "apply", run("apply", "-f", writeFile(t, "pvc.yaml", pvcManifest(suffix, "a"))),
				"persistentvolumeclaim/data created", "persistentvolume/"+pv+" created")
			mustContain(t, "re-apply", run("apply", "-f", writeFile(t, "pvc.yaml", pvcManifest(suffix, "b"))),
				"persistentvolumeclaim/data configured", "persistentvolume/"+pv+" unchanged")
			// Upstream's defaults and server-set status.
			if got := jsonpath("pvc/data", ".status.phase") + " " + jsonpath("pvc/data", ".spec.volumeMode") + " " +
				jsonpath("pvc/data", ".metadata.labels.tier"); got != "Pending Filesystem b" {
				t.Fatalf("claim's phase, volume mode, label: %q, want Pending Filesystem b", got)
			}
			if got := jsonpath("pv/"+pv, ".status.phase") + " " + jsonpath("pv/"+pv, ".spec.persistentVolumeReclaimPolicy") + " " +
				jsonpath("pv/"+pv, ".spec.volumeMode"); got != "Pending Retain Filesystem" {
				t.Fatalf("volume's phase, reclaim policy, volume mode: %q, want Pending Retain Filesystem", got)
			}
			if ts := jsonpath("pv/"+pv, ".status.lastPhaseTransitionTime"); ts == "" {
				t.Fatalf("a new volume has no lastPhaseTransitionTime")
			}

			out := run("get", "pvc,pv")
			for _, want := range [][]string{
				{"NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"},
				{"persistentvolumeclaim/data", "Pending", "manual", "<unset>"},
				{"NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"},
				{"persistentvolume/" + pv, "5Gi", "RWO,ROX", "Retain", "Pending", "manual", "<unset>"},
			} {
				if !hasLineStarting(out, want...) {
					t.Fatalf("kubectl get pvc,pv lacks %q:\n%s", want, out)
				}
			}
			out = run("get", "pvc", "-o", "wide")
			if !hasLine(out, "NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE") ||
				!hasRowAroundAge(out, []string{"data", "Pending", "manual", "<unset>"}, []string{"Filesystem"}) {
				t.Fatalf("kubectl get pvc -o wide:\n%s", out)
			}
			out = run("get", "pv", pv, "-o", "wide")
			if !hasRowAroundAge(out, []string{pv, "5Gi", "RWO,ROX", "Retain", "Pending", "manual", "<unset>"}, []string{"Filesystem"}) {
				t.Fatalf("kubectl get pv -o wide:\n%s", out)
			}

			// Bind by hand, as a binder would: volumeName once through the
			// claim, phase and capacity through its status. A bound claim
			// shows its volume's capacity and access modes.
			run("patch", "pvc", "data", "-p", `{"spec":{"volumeName":"`+pv+`"}}`)
			claims := c.Client.CoreV1().PersistentVolumeClaims(ns)
			ctx := context.Background()
			claim, err := claims.Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			claim.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}}
			if _, err := claims.UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("binding the claim through its status: %v", err)
			}
			if !hasLineStarting(run("get", "pvc", "data"), "data", "Bound", pv, "5Gi", "RWO", "manual", "<unset>") {
				t.Fatalf("bound claim:\n%s", run("get", "pvc", "data"))
			}
			// A bound claim may grow; nothing else in its spec may change.
			run("patch", "pvc", "data", "-p", `{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`)
			if got := jsonpath("pvc/data", ".spec.resources.requests.storage"); got != "2Gi" {
				t.Fatalf("after expansion the claim asks for %s, want 2Gi", got)
			}
			mustContain(t, "spec change", fail("patch", "pvc", "data", "-p", `{"spec":{"accessModes":["ReadWriteMany"]}}`),
				`The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims`)
			mustContain(t, "source change", fail("patch", "pv", pv, "-p", `{"spec":{"hostPath":{"path":"/srv/other"}}}`),
				`The PersistentVolume "`+pv+`" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation`)
			if got := jsonpath("pvc/data", ".spec.accessModes[0]") + " " + jsonpath("pv/"+pv, ".spec.hostPath.path"); got != "ReadWriteOnce /srv/"+suffix {
				t.Fatalf("a refused update was stored: %s", got)
			}

			// Invalid input is refused in upstream's words, and nothing is stored.
			bad := "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: bad\nspec:\n  accessModes: [ReadWriteSometimes]\n  resources:\n    requests:\n      storage: \"0\"\n"
			mustContain(t, "refused", fail("create", "-f", writeFile(t, "bad.yaml", bad)),
				`The PersistentVolumeClaim "bad" is invalid: `,
				`spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`,
				`spec.resources[storage]: Invalid value: "0": must be greater than zero`)
			mustContain(t, "not stored", fail("get", "pvc", "bad"), `persistentvolumeclaims "bad" not found`)

			// The protection finalizers hold a deleted claim and volume
			// Terminating; no controller runs here to release them, so they
			// go when the finalizer is taken off by hand.
			if got := jsonpath("pvc/data", ".metadata.finalizers") + " " + jsonpath("pv/"+pv, ".metadata.finalizers"); got != `["kubernetes.io/pvc-protection"] ["kubernetes.io/pv-protection"]` {
				t.Fatalf("finalizers of claim and volume: %s", got)
			}
			mustContain(t, "delete", run("delete", "pvc/data", "pv/"+pv, "--wait=false"),
				`persistentvolumeclaim "data" deleted`, `persistentvolume "`+pv+`" deleted`)
			out = run("get", "pvc,pv")
			if !hasLineStarting(out, "persistentvolumeclaim/data", "Terminating", pv, "5Gi", "RWO") ||
				!hasLineStarting(out, "persistentvolume/"+pv, "5Gi", "RWO,ROX", "Retain", "Terminating") {
				t.Fatalf("deleted claim and volume are not Terminating:\n%s", out)
			}
			for _, obj := range []string{"pvc/data", "pv/" + pv} {
				run("patch", obj, "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
			}
			mustContain(t, "deleted pvc", fail("get", "pvc", "data"), `persistentvolumeclaims "data" not found`)
			mustContain(t, "deleted pv", fail("get", "pv", pv), `persistentvolumes "`+pv+`" not found`)
		})
	}
}

// TestPVCInvalidIs422 checks the status a client gets for invalid claims and
// volumes (422, reason Invalid, each cause at upstream's field path), that
// nothing was stored, that a create resets the status a client sent, and
// the fields a list may select on.
func TestPVCInvalidIs422(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, tc := range []struct {
		path, name, body string
		causes           []metav1.StatusCause
	}{
		{"/api/v1/namespaces/default/persistentvolumeclaims", "bad",
			`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"bad"},"spec":{"resources":{"requests":{"storage":"0"}},"volumeMode":"Raw","dataSource":{"kind":"Secret","name":"s"},"dataSourceRef":{"kind":"Secret","name":"s"}}}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.accessModes", Message: "Required value: at least 1 access mode is required"},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.resources[storage]", Message: `Invalid value: "0": must be greater than zero`},
				{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.volumeMode", Message: `Unsupported value: "Raw": supported values: "Block", "Filesystem"`},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.dataSource", Message: `Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup`},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.dataSourceRef", Message: `Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup`},
			}},
		{"/api/v1/persistentvolumes", "bad",
			`{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"bad"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Keep","local":{"path":"/mnt/disk"}}}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.persistentVolumeReclaimPolicy", Message: `Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`},
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.nodeAffinity", Message: "Required value: Local volume requires node affinity"},
			}},
		{"/api/v1/persistentvolumes", "two",
			`{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"two"},"spec":{"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/srv"},"nfs":{"server":"nfs","path":"/exports"}}}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.capacity", Message: "Required value"},
				{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.capacity", Message: `Unsupported value: null: supported values: "storage"`},
				{Type: metav1.CauseTypeForbidden, Field: "spec.nfs", Message: "Forbidden: may not specify more than 1 volume type"},
			}},
	} {
		t.Run(tc.path+"/"+tc.name, func(t *testing.T) {
			code, st := rawRequest(t, c, http.MethodPost, tc.path, "application/json", []byte(tc.body))
			if code != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid || st.Details == nil {
				t.Fatalf("got %d %s (%s), want 422 Invalid", code, st.Reason, st.Message)
			}
			if !equalCauses(st.Details.Causes, tc.causes) {
				t.Fatalf("causes\n got: %+v\nwant: %+v", st.Details.Causes, tc.causes)
			}
			if code, _ := rawRequest(t, c, http.MethodGet, tc.path+"/"+tc.name, "", nil); code != http.StatusNotFound {
				t.Fatalf("a refused object was stored: GET gave %d", code)
			}
		})
	}

	// A create keeps no status the client sent: a claim starts Pending.
	ctx := context.Background()
	claims := c.Client.CoreV1().PersistentVolumeClaims("default")
	in := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("9Gi")}},
	}
	out, err := claims.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status.Phase != corev1.ClaimPending || out.Status.Capacity != nil {
		t.Fatalf("created claim's status %+v, want only phase Pending", out.Status)
	}
	if len(out.Finalizers) != 1 || out.Finalizers[0] != "kubernetes.io/pvc-protection" {
		t.Fatalf("finalizers %v, want the protection finalizer alone", out.Finalizers)
	}

	// As upstream, both kinds select on the bare "name" besides metadata.
	for _, sel := range []string{"metadata.name=data", "name=data"} {
		list, err := claims.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("select claims by %s: %v, %v", sel, list, err)
		}
	}
}

// TestPVCProtection runs the protection controllers: a claim a scheduled pod
// mounts stays Terminating after its delete until the pod is gone, and a
// volume stays while it is Bound, as upstream's pvc- and pv-protection
// controllers keep them.
func TestPVCProtection(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	claims := c.Client.CoreV1().PersistentVolumeClaims("default")
	volumes := c.Client.CoreV1().PersistentVolumes()
	pods := c.Client.CoreV1().Pods("default")

	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := claims.Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		},
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvcEventually(t, "the pod is scheduled", func() bool {
		p, err := pods.Get(ctx, "user", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != ""
	})

	if err := claims.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Held while the pod lives: give the controller time to (wrongly) act.
	time.Sleep(2 * time.Second)
	if got, err := claims.Get(ctx, "data", metav1.GetOptions{}); err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("claim in use after delete: %v, %v; want it Terminating", got, err)
	}
	if err := pods.Delete(ctx, "user", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	pvcEventually(t, "the claim is gone once its pod is", func() bool {
		_, err := claims.Get(ctx, "data", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "disk"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/disk"}},
		},
	}
	created, err := volumes.Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.VolumeBound
	if _, err := volumes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := volumes.Delete(ctx, "disk", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	got, err := volumes.Get(ctx, "disk", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("bound volume after delete: %v, %v; want it Terminating", got, err)
	}
	got.Status.Phase = corev1.VolumeReleased
	if _, err := volumes.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvcEventually(t, "the volume is gone once released", func() bool {
		_, err := volumes.Get(ctx, "disk", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// pvcEventually waits up to 30s for cond.
func pvcEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
