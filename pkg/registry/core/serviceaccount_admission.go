package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/apiserver"
)

const (
	// serviceAccountVolumePrefix names the projected volume that carries a
	// pod's API credentials (kube-api-access-xxxxx).
	serviceAccountVolumePrefix = "kube-api-access-"
	// ServiceAccountMountPath is where every container finds them.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// serviceAccountTokenSeconds is the lifetime asked for the token of the
	// projected volume (upstream's 3607, which its kubelets ask too).
	serviceAccountTokenSeconds = 60*60 + 7
	// enforceMountableSecrets is the service account annotation that limits
	// its pods to the secrets it lists.
	enforceMountableSecrets = "kubernetes.io/enforce-mountable-secrets"
	// mirrorPodAnnotation marks a node's mirror of a static pod.
	mirrorPodAnnotation = "kubernetes.io/config.mirror"
)

// serviceAccountLookups is how many times the default service account is
// looked for before a pod is refused: the service account controller makes
// it just after its namespace, and a pod may come between the two.
var serviceAccountLookups = 10

// admitServiceAccount is upstream's ServiceAccount admission plugin on pod
// create: a pod runs as the "default" service account unless it names one;
// the account must exist; unless automounting is off (on the pod, else on
// the account) every container gets the kube-api-access projected volume
// (a bound token, the cluster's CA and the namespace) at
// ServiceAccountMountPath; a pod that names no image pull secrets gets the
// account's. A mirror pod may use neither accounts nor secrets.
func admitServiceAccount(ctx context.Context, v apiserver.View, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return checkMirrorPod(pod)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaults.DefaultServiceAccountName
		pod.Spec.DeprecatedServiceAccount = defaults.DefaultServiceAccountName
	}
	sa, err := lookupServiceAccount(ctx, v, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return podForbidden(pod, "error looking up service account %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err)
	}
	if automount(sa, pod) {
		mountServiceAccountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	if enforcesMountableSecrets(sa) {
		if err := checkMountableSecrets(sa, pod); err != nil {
			return podForbidden(pod, "%w", err)
		}
	}
	return nil
}

// lookupServiceAccount reads a service account from the server's cache,
// which holds every write acknowledged; the default account is waited for
// a little while, as its controller may not have made it yet.
func lookupServiceAccount(ctx context.Context, v apiserver.View, namespace, name string) (*corev1.ServiceAccount, error) {
	tries := 1
	if name == defaults.DefaultServiceAccountName {
		tries = serviceAccountLookups
	}
	wait := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		if sa, ok := apiserver.GetObject(v, "v1", "serviceaccounts", namespace, name).(*corev1.ServiceAccount); ok {
			return sa, nil
		}
	}
	return nil, fmt.Errorf("serviceaccount %q not found", name)
}

// automount is whether the pod gets the token volume: the pod's choice, else
// the account's, else yes.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountServiceAccountToken mounts the kube-api-access volume (the pod's own
// one if it has it, else a new one) read-only at ServiceAccountMountPath in
// every container and init container that mounts nothing there.
func mountServiceAccountToken(pod *corev1.Pod) {
	name := ""
	for _, vol := range pod.Spec.Volumes {
		if strings.HasPrefix(vol.Name, serviceAccountVolumePrefix) {
			name = vol.Name
			break
		}
	}
	has := name != ""
	if !has {
		name = serviceAccountVolumePrefix + utilrand.String(5)
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountMountPath}
	needed := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !slices.ContainsFunc(cs[i].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == ServiceAccountMountPath }) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !has {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}})
	}
}

// TokenVolumeSource is the kube-api-access volume: a token of the pod's
// service account bound to the pod, the kube-root-ca.crt ConfigMap's ca.crt
// and the pod's namespace.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](serviceAccountTokenSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}

// checkMirrorPod refuses a mirror pod that names a service account, a
// secret or a token projection: a node may not reach them through a pod it
// made up.
func checkMirrorPod(pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return podForbidden(pod, "a mirror pod may not reference service accounts")
	}
	if len(podSecretNames(pod)) > 0 {
		return podForbidden(pod, "a mirror pod may not reference secrets")
	}
	for _, vol := range pod.Spec.Volumes {
		if vol.Projected == nil {
			continue
		}
		for _, src := range vol.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return podForbidden(pod, "a mirror pod may not use ServiceAccountToken volume projections")
			}
		}
	}
	return nil
}

// enforcesMountableSecrets is whether the account limits its pods to the
// secrets it lists.
func enforcesMountableSecrets(sa *corev1.ServiceAccount) bool {
	enforce, _ := strconv.ParseBool(sa.Annotations[enforceMountableSecrets])
	return enforce
}

// checkMountableSecrets refuses a pod that uses a secret (as a volume, in
// its environment, or to pull images) its account does not list, with
// upstream's words.
func checkMountableSecrets(sa *corev1.ServiceAccount, pod *corev1.Pod) error {
	mountable := map[string]bool{}
	for _, s := range sa.Secrets {
		mountable[s.Name] = true
	}
	for _, vol := range pod.Spec.Volumes {
		if vol.Secret != nil && !mountable[vol.Secret.SecretName] {
			return fmt.Errorf("volume with secret.secretName=%q is not allowed because service account %s does not reference that secret", vol.Secret.SecretName, sa.Name)
		}
	}
	for _, l := range []struct {
		what string
		cs   []corev1.Container
	}{{"init container", pod.Spec.InitContainers}, {"container", pod.Spec.Containers}} {
		for _, c := range l.cs {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !mountable[e.ValueFrom.SecretKeyRef.Name] {
					return fmt.Errorf("%s %s with envVar %s referencing secret.secretName=%q is not allowed because service account %s does not reference that secret", l.what, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name, sa.Name)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil && !mountable[e.SecretRef.Name] {
					return fmt.Errorf("%s %s with envFrom referencing secret.secretName=%q is not allowed because service account %s does not reference that secret", l.what, c.Name, e.SecretRef.Name, sa.Name)
				}
			}
		}
	}
	pullable := map[string]bool{}
	for _, s := range sa.ImagePullSecrets {
		pullable[s.Name] = true
	}
	for i, s := range pod.Spec.ImagePullSecrets {
		if !pullable[s.Name] {
			return fmt.Errorf("imagePullSecrets[%d].name=%q is not allowed because service account %s does not reference that imagePullSecret", i, s.Name, sa.Name)
		}
	}
	return nil
}

// podSecretNames lists the secrets a pod references anywhere: image pull
// secrets, environments of every container, and volumes.
func podSecretNames(pod *corev1.Pod) []string {
	var names []string
	add := func(name string) {
		if name != "" {
			names = append(names, name)
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		add(s.Name)
	}
	envs := func(env []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, e := range from {
			if e.SecretRef != nil {
				add(e.SecretRef.Name)
			}
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		envs(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		envs(c.Env, c.EnvFrom)
	}
	ref := func(r *corev1.LocalObjectReference) {
		if r != nil {
			add(r.Name)
		}
	}
	for _, vol := range pod.Spec.Volumes {
		switch src := vol.VolumeSource; {
		case src.Secret != nil:
			add(src.Secret.SecretName)
		case src.Projected != nil:
			for _, p := range src.Projected.Sources {
				if p.Secret != nil {
					add(p.Secret.Name)
				}
			}
		case src.CSI != nil:
			ref(src.CSI.NodePublishSecretRef)
		case src.AzureFile != nil:
			add(src.AzureFile.SecretName)
		case src.CephFS != nil:
			ref(src.CephFS.SecretRef)
		case src.Cinder != nil:
			ref(src.Cinder.SecretRef)
		case src.FlexVolume != nil:
			ref(src.FlexVolume.SecretRef)
		case src.RBD != nil:
			ref(src.RBD.SecretRef)
		case src.ScaleIO != nil:
			ref(src.ScaleIO.SecretRef)
		case src.ISCSI != nil:
			ref(src.ISCSI.SecretRef)
		case src.StorageOS != nil:
			ref(src.StorageOS.SecretRef)
		}
	}
	return names
}
