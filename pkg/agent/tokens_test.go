package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// TestTokenFiles: a projected service account token is asked for bound to
// the pod, with the projection's audience and lifetime, reused until four
// fifths of its life have passed, and then renewed; without a token API the
// volume fails with a clear error.
func TestTokenFiles(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { timeNow = f }(timeNow)
	timeNow = func() time.Time { return now }

	client := fake.NewClientset()
	var asked []*authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		asked = append(asked, req)
		out := req.DeepCopy()
		out.Status = authenticationv1.TokenRequestStatus{
			Token:               fmt.Sprintf("token-%d", len(asked)),
			ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
		}
		return true, out, nil
	})
	a := &Agent{client: client}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}, Spec: corev1.PodSpec{ServiceAccountName: "builder"}}
	src := &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault", ExpirationSeconds: ptr.To(int64(1000))}
	refs := &podRefs{a: a, ns: "default", tokens: tokenCache{}}

	read := func() string {
		t.Helper()
		files, err := a.tokenFiles(context.Background(), refs, pod, src)
		if err != nil || len(files) != 1 || files[0].path != "token" {
			t.Fatalf("token files: %v, %v", files, err)
		}
		return string(files[0].data)
	}
	if got := read(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}
	r := asked[0]
	if r.Spec.Audiences[0] != "vault" || *r.Spec.ExpirationSeconds != 1000 || r.Spec.BoundObjectRef.Name != "web" || r.Spec.BoundObjectRef.UID != "u1" {
		t.Errorf("token request: %+v", r.Spec)
	}
	now = now.Add(700 * time.Second)
	if got := read(); got != "token-1" || len(asked) != 1 {
		t.Errorf("at 70%% of its life: %q after %d requests, want the same token", got, len(asked))
	}
	now = now.Add(150 * time.Second)
	if got := read(); got != "token-2" {
		t.Errorf("at 85%% of its life: %q, want a renewed token", got)
	}

	refs = &podRefs{a: &Agent{client: fake.NewClientset()}, ns: "default", tokens: tokenCache{}}
	refs.a.client.(*fake.Clientset).PrependReactor("create", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), "builder")
	})
	if _, err := refs.a.tokenFiles(context.Background(), refs, pod, src); err == nil || !isConfigError(err) {
		t.Errorf("without a token API: %v, want a configuration error", err)
	}
}

// TestCredentialOwnership: as upstream's projected volume, token, trust
// anchor and pod certificate files are 0600 and owned by the user all the
// pod's containers run as when there is one, read by the fsGroup too when
// the pod has one (0640), and 0644 root's otherwise; the projected config
// map beside them keeps its mode and owner.
func TestCredentialOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	client := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"k": "v"}})
	client.PrependReactor("create", "serviceaccounts", func(action k8stesting.Action) (bool, runtime.Object, error) {
		out := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		out.Status = authenticationv1.TokenRequestStatus{Token: "a.b.c", ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))}
		return true, out, nil
	})
	a := &Agent{client: client}
	vol := &corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To(int32(0o644)), Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(int64(3600))}},
		{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr.To("missing"), Optional: ptr.To(true), Path: "ca.pem"}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
	}}}}
	for _, tc := range []struct {
		name               string
		runAsUser, fsGroup *int64
		wantPerm           os.FileMode
		wantUID, wantGID   uint32
	}{
		{name: "runAsUser", runAsUser: ptr.To(int64(1000)), wantPerm: 0o600, wantUID: 1000},
		{name: "fsGroup", fsGroup: ptr.To(int64(10000)), wantPerm: 0o640, wantGID: 10000},
		{name: "both", runAsUser: ptr.To(int64(1000)), fsGroup: ptr.To(int64(10000)), wantPerm: 0o640, wantUID: 1000, wantGID: 10000},
		{name: "neither", wantPerm: 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}, Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: tc.runAsUser, FSGroup: tc.fsGroup},
				Containers:      []corev1.Container{{Name: "app"}, {Name: "sidecar"}},
			}}
			dir := filepath.Join(t.TempDir(), "creds")
			if _, err := a.writeProjection(context.Background(), &podRefs{a: a, ns: "default", tokens: tokenCache{}}, pod, vol, dir, nil); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"token", "ca.pem"} {
				st, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				sys := st.Sys().(*syscall.Stat_t)
				if st.Mode().Perm() != tc.wantPerm || sys.Uid != tc.wantUID || sys.Gid != tc.wantGID {
					t.Errorf("%s: %v %d:%d, want %v %d:%d", name, st.Mode().Perm(), sys.Uid, sys.Gid, tc.wantPerm, tc.wantUID, tc.wantGID)
				}
			}
			st, err := os.Stat(filepath.Join(dir, "k"))
			if err != nil || st.Mode().Perm()&0o004 == 0 || st.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Errorf("config map file: %v owned by %d (%v), want it world-readable and root's", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, err)
			}
			if changed, err := a.writeProjection(context.Background(), &podRefs{a: a, ns: "default", tokens: tokenCache{}}, pod, vol, dir, nil); err != nil || changed {
				t.Errorf("written again: changed=%v err=%v, want nothing to do", changed, err)
			}
		})
	}
}

// TestFsUserOf: the pod's files belong to a user only when every container,
// init ones included, runs as the same one.
func TestFsUserOf(t *testing.T) {
	uid := func(u int64) *corev1.SecurityContext { return &corev1.SecurityContext{RunAsUser: &u} }
	for _, tc := range []struct {
		name string
		pod  corev1.PodSpec
		want *int64
	}{
		{"pod's user", corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(7))}, Containers: []corev1.Container{{}, {}}}, ptr.To(int64(7))},
		{"containers agree", corev1.PodSpec{Containers: []corev1.Container{{SecurityContext: uid(8)}, {SecurityContext: uid(8)}}}, ptr.To(int64(8))},
		{"container overrides the pod", corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(7))}, Containers: []corev1.Container{{SecurityContext: uid(8)}}}, ptr.To(int64(8))},
		{"containers differ", corev1.PodSpec{Containers: []corev1.Container{{SecurityContext: uid(8)}, {SecurityContext: uid(9)}}}, nil},
		{"one has none", corev1.PodSpec{Containers: []corev1.Container{{SecurityContext: uid(8)}, {}}}, nil},
		{"init container differs", corev1.PodSpec{InitContainers: []corev1.Container{{SecurityContext: uid(0)}}, Containers: []corev1.Container{{SecurityContext: uid(8)}}}, nil},
	} {
		got := fsUserOf(&corev1.Pod{Spec: tc.pod})
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: %v, want %v", tc.name, ptr.Deref(got, -1), ptr.Deref(tc.want, -1))
		}
	}
}
