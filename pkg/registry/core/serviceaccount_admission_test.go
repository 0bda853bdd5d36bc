package core

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/validation"
)

func account(name string, edit func(*corev1.ServiceAccount)) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if edit != nil {
		edit(sa)
	}
	return sa
}

func accounts(sas ...*corev1.ServiceAccount) objects {
	var objs []runtime.Object
	for _, sa := range sas {
		objs = append(objs, sa)
	}
	return objects{"v1/serviceaccounts": objs}
}

// admitWithAccounts runs mutating admission with ServiceAccount on, then
// validation, as the API server does.
func admitWithAccounts(view objects, p *corev1.Pod) error {
	if err := admitPod(true)(context.Background(), view, p); err != nil {
		return err
	}
	if errs := validation.ValidatePod(p); len(errs) > 0 {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Pod").GroupKind(), p.Name, errs)
	}
	return nil
}

func tokenVolume(p *corev1.Pod) *corev1.Volume {
	for i, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			return &p.Spec.Volumes[i]
		}
	}
	return nil
}

func TestServiceAccountAdmissionMountsToken(t *testing.T) {
	p := admissionPod(nil, nil, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
	})
	if err := admitWithAccounts(accounts(account("default", nil)), p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "default" || p.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("serviceAccountName %q serviceAccount %q, want default", p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount)
	}
	vol := tokenVolume(p)
	if vol == nil {
		t.Fatalf("no kube-api-access volume in %+v", p.Spec.Volumes)
	}
	if len(vol.Name) != len("kube-api-access-")+5 {
		t.Errorf("volume name %q, want kube-api-access- and 5 random characters", vol.Name)
	}
	// Upstream's projection, field for field.
	want := &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
	if !equality.Semantic.DeepEqual(vol.Projected, want) {
		t.Errorf("projection %+v, want %+v", vol.Projected, want)
	}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		mount := corev1.VolumeMount{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
		if len(c.VolumeMounts) != 1 || !equality.Semantic.DeepEqual(c.VolumeMounts[0], mount) {
			t.Errorf("container %s mounts %+v, want %+v", c.Name, c.VolumeMounts, mount)
		}
	}
}

func TestServiceAccountAdmissionAutomount(t *testing.T) {
	off, on := ptr.To(false), ptr.To(true)
	for _, tc := range []struct {
		name        string
		pod, sa     *bool
		wantMounted bool
	}{
		{"neither says", nil, nil, true},
		{"pod says no", off, nil, false},
		{"account says no", nil, off, false},
		{"pod's yes over account's no", on, off, true},
		{"pod's no over account's yes", off, on, false},
	} {
		p := admissionPod(nil, nil, func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = tc.pod })
		sa := account("default", func(sa *corev1.ServiceAccount) { sa.AutomountServiceAccountToken = tc.sa })
		if err := admitWithAccounts(accounts(sa), p); err != nil {
			t.Fatal(err)
		}
		if got := tokenVolume(p) != nil; got != tc.wantMounted || got != (len(p.Spec.Containers[0].VolumeMounts) == 1) {
			t.Errorf("%s: volume %v, mounts %+v; want mounted %v", tc.name, got, p.Spec.Containers[0].VolumeMounts, tc.wantMounted)
		}
	}
}

func TestServiceAccountAdmissionKeepsOwnMounts(t *testing.T) {
	// A container that mounts something at the path keeps it; the volume
	// is added only if another container needs it.
	own := corev1.VolumeMount{Name: "mine", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
	p := admissionPod(nil, nil, func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "mine", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{own}
	})
	if err := admitWithAccounts(accounts(account("default", nil)), p); err != nil {
		t.Fatal(err)
	}
	if tokenVolume(p) != nil || len(p.Spec.Containers[0].VolumeMounts) != 1 || !equality.Semantic.DeepEqual(p.Spec.Containers[0].VolumeMounts[0], own) {
		t.Errorf("volumes %+v, mounts %+v; want only the pod's own", p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
	}

	// A pod that brings its own kube-api-access volume has it used.
	p = admissionPod(nil, nil, func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-mine", VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}}}
	})
	if err := admitWithAccounts(accounts(account("default", nil)), p); err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Containers[0].VolumeMounts[0].Name != "kube-api-access-mine" {
		t.Errorf("volumes %+v, mounts %+v; want the pod's kube-api-access-mine used", p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
	}
}

func TestServiceAccountAdmissionRefusesMissingAccount(t *testing.T) {
	defer func(n int) { serviceAccountLookups = n }(serviceAccountLookups)
	serviceAccountLookups = 2
	for _, name := range []string{"robot", ""} {
		p := admissionPod(nil, nil, func(p *corev1.Pod) { p.Spec.ServiceAccountName = name })
		err := admitWithAccounts(accounts(account("someone-else", nil)), p)
		if name == "" {
			name = "default"
		}
		want := `pods "web" is forbidden: error looking up service account default/` + name + `: serviceaccount "` + name + `" not found`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Errorf("account %q: err %v, want %s", name, err, want)
		}
	}
	// A generated name is named by its prefix, as upstream's.
	p := admissionPod(nil, nil, func(p *corev1.Pod) { p.Name, p.GenerateName, p.Spec.ServiceAccountName = "", "web-", "robot" })
	if err := admitWithAccounts(nil, p); err == nil || !strings.HasPrefix(err.Error(), `pods "web-" is forbidden`) {
		t.Errorf("generated name: %v", err)
	}
}

// lateView is a View whose default account appears after a while, as the
// service account controller makes it after its namespace.
type lateView struct {
	mu  sync.Mutex
	sas []runtime.Object
}

func (v *lateView) List(gv, resource string) []runtime.Object {
	v.mu.Lock()
	defer v.mu.Unlock()
	if gv+"/"+resource == "v1/serviceaccounts" {
		return v.sas
	}
	return nil
}

func TestServiceAccountAdmissionWaitsForDefault(t *testing.T) {
	v := &lateView{}
	go func() {
		time.Sleep(300 * time.Millisecond)
		v.mu.Lock()
		v.sas = []runtime.Object{account("default", nil)}
		v.mu.Unlock()
	}()
	p := admissionPod(nil, nil, nil)
	if err := admitPod(true)(context.Background(), v, p); err != nil {
		t.Fatalf("a pod made just before its namespace's default account: %v", err)
	}
	if tokenVolume(p) == nil {
		t.Error("no token volume")
	}
}

func TestServiceAccountAdmissionPullSecrets(t *testing.T) {
	sa := account("builder", func(sa *corev1.ServiceAccount) {
		sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry-a"}, {Name: "registry-b"}}
	})
	p := admissionPod(nil, nil, func(p *corev1.Pod) { p.Spec.ServiceAccountName = "builder" })
	if err := admitWithAccounts(accounts(sa), p); err != nil {
		t.Fatal(err)
	}
	if want := sa.ImagePullSecrets; !equality.Semantic.DeepEqual(p.Spec.ImagePullSecrets, want) {
		t.Errorf("imagePullSecrets %+v, want the account's %+v", p.Spec.ImagePullSecrets, want)
	}
	p = admissionPod(nil, nil, func(p *corev1.Pod) {
		p.Spec.ServiceAccountName = "builder"
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "own"}}
	})
	if err := admitWithAccounts(accounts(sa), p); err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.ImagePullSecrets) != 1 || p.Spec.ImagePullSecrets[0].Name != "own" {
		t.Errorf("imagePullSecrets %+v, want the pod's own", p.Spec.ImagePullSecrets)
	}
}

func TestServiceAccountAdmissionMountableSecrets(t *testing.T) {
	sa := account("default", func(sa *corev1.ServiceAccount) {
		sa.Annotations = map[string]string{"kubernetes.io/enforce-mountable-secrets": "true"}
		sa.Secrets = []corev1.ObjectReference{{Name: "allowed"}}
	})
	for _, tc := range []struct {
		edit func(*corev1.Pod)
		want string
	}{
		{func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "allowed"}}}}
		}, ""},
		{func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other"}}}}
		}, `volume with secret.secretName="other" is not allowed because service account default does not reference that secret`},
		{func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "k"}}}}
		}, `container pause with envVar PASSWORD referencing secret.secretName="other" is not allowed because service account default does not reference that secret`},
		{func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}}}
		}, `init container init with envFrom referencing secret.secretName="other" is not allowed because service account default does not reference that secret`},
		{func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "other"}} },
			`imagePullSecrets[0].name="other" is not allowed because service account default does not reference that imagePullSecret`},
	} {
		p := admissionPod(nil, nil, tc.edit)
		err := admitWithAccounts(accounts(sa), p)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != `pods "web" is forbidden: `+tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}

func TestServiceAccountAdmissionMirrorPods(t *testing.T) {
	mirror := func(edit func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "static-web-node1", Namespace: "default", Annotations: map[string]string{"kubernetes.io/config.mirror": "abc"}},
			Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
		}
		if edit != nil {
			edit(p)
		}
		defaults.Pod(p, defaults.PodOptions{})
		return p
	}
	p := mirror(nil)
	if err := admitWithAccounts(nil, p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "" || tokenVolume(p) != nil {
		t.Errorf("a mirror pod got account %q, volumes %+v", p.Spec.ServiceAccountName, p.Spec.Volumes)
	}
	for _, tc := range []struct {
		edit func(*corev1.Pod)
		want string
	}{
		{func(p *corev1.Pod) { p.Spec.ServiceAccountName = "default" }, "a mirror pod may not reference service accounts"},
		{func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
		}, "a mirror pod may not reference secrets"},
		{func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}
		}, "a mirror pod may not reference secrets"},
		{func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}}
		}, "a mirror pod may not use ServiceAccountToken volume projections"},
	} {
		err := admitWithAccounts(accounts(account("default", nil)), mirror(tc.edit))
		if want := `pods "static-web-node1" is forbidden: ` + tc.want; err == nil || err.Error() != want {
			t.Errorf("err %v, want %s", err, want)
		}
	}
}
