package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// prepareVolumes makes the pod's volumes exist on the node and returns the
// host path of each by name. Config map, secret, downward API and projected
// volumes are written atomically (see writeAtomic); refreshVolumes keeps them
// current while the pod runs.
func (a *Agent) prepareVolumes(ctx context.Context, refs *podRefs, pod *corev1.Pod, podIPs []string) (map[string]string, error) {
	paths := map[string]string{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var (
			p   string
			err error
		)
		switch {
		case v.EmptyDir != nil:
			p = a.volumeDir(pod, "empty-dir", v.Name)
			err = a.prepareEmptyDir(pod, p, v.EmptyDir)
		case v.HostPath != nil:
			p = v.HostPath.Path
			err = checkHostPath(v.HostPath)
		case isProjection(v):
			p = a.volumeDir(pod, projectionKind(v), v.Name)
			_, err = a.writeProjection(ctx, refs, pod, v, p, podIPs)
		default:
			err = configErrorf("volume %q: this volume type is not supported by Skiff (emptyDir, hostPath, configMap, secret, downwardAPI and projected are)", v.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

// refreshVolumes writes the pod's config map, secret, downward API and
// projected volumes again from the current objects, as the kubelet does
// while a pod runs; only what changed is written. withRefs false refreshes
// only what the pod object alone determines (downward API items), so that
// config maps and secrets are read at a slower pace than the pod syncs.
func (a *Agent) refreshVolumes(ctx context.Context, refs *podRefs, pod *corev1.Pod, podIPs []string, withRefs bool) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !isProjection(v) || (!withRefs && readsObjects(v)) {
			continue
		}
		changed, err := a.writeProjection(ctx, refs, pod, v, a.volumeDir(pod, projectionKind(v), v.Name), podIPs)
		if err != nil {
			// As upstream: the files the pod has stay as they were.
			a.log.Debug("refreshing volume", "pod", klogKey(pod), "volume", v.Name, "err", err)
			continue
		}
		if changed {
			a.log.Debug("volume updated", "pod", klogKey(pod), "volume", v.Name)
		}
	}
}

func isProjection(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// readsObjects is true for a volume whose files come from other API objects.
func readsObjects(v *corev1.Volume) bool {
	if v.ConfigMap != nil || v.Secret != nil {
		return true
	}
	if v.Projected != nil {
		for _, s := range v.Projected.Sources {
			if s.DownwardAPI == nil {
				return true
			}
		}
	}
	return false
}

func projectionKind(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return "configmap"
	case v.Secret != nil:
		return "secret"
	case v.DownwardAPI != nil:
		return "downward-api"
	}
	return "projected"
}

// writeProjection renders one config map, secret, downward API or projected
// volume into dir.
func (a *Agent) writeProjection(ctx context.Context, refs *podRefs, pod *corev1.Pod, v *corev1.Volume, dir string, podIPs []string) (bool, error) {
	var (
		files []volumeFile
		mode  *int32
		err   error
	)
	switch {
	case v.ConfigMap != nil:
		files, err = a.configMapFiles(ctx, refs, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
		mode = v.ConfigMap.DefaultMode
	case v.Secret != nil:
		files, err = a.secretFiles(ctx, refs, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional != nil && *v.Secret.Optional)
		mode = v.Secret.DefaultMode
	case v.DownwardAPI != nil:
		files, err = a.downwardFiles(pod, v.DownwardAPI.Items, podIPs)
		mode = v.DownwardAPI.DefaultMode
	case v.Projected != nil:
		files, err = a.projectedFiles(ctx, refs, pod, v.Name, v.Projected, podIPs)
		mode = v.Projected.DefaultMode
	}
	if err != nil {
		return false, err
	}
	return writeAtomic(dir, files, mode, volumeOwner{fsGroup: fsGroupOf(pod), readOnly: true})
}

func fsGroupOf(pod *corev1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroup
	}
	return nil
}

// prepareEmptyDir makes an emptyDir: a directory open to every user in the
// pod, on the node's disk or, for medium Memory, on a tmpfs of its own.
func (a *Agent) prepareEmptyDir(pod *corev1.Pod, dir string, src *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if src.Medium == corev1.StorageMediumMemory {
		if err := mountTmpfs(dir, memoryVolumeSize(pod, src)); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	return volumeOwner{fsGroup: fsGroupOf(pod)}.ownDir(dir, 0o777)
}

// volumeMounts turns a container's volumeMounts into CRI mounts; a subPath
// is bound at a path of the pod's own first (bindSubPath).
func (a *Agent) volumeMounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string, env []*runtimeapi.KeyValue) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		host, ok := paths[m.Name]
		if !ok {
			return nil, configErrorf("volumeMount %q: no volume of that name", m.Name)
		}
		sub, err := subPathOf(m, env)
		if err != nil {
			return nil, err
		}
		if sub != "" {
			target := filepath.Join(a.podDir(pod), "_subpaths", c.Name, strconv.Itoa(i))
			if err := bindSubPath(host, sub, target); err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", m.Name, c.Name, err)
			}
			host = target
		}
		mount := &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case corev1.MountPropagationBidirectional:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, mount)
	}
	return out, nil
}

func mkdirMode(p string, mode os.FileMode) error {
	if err := os.MkdirAll(p, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func checkHostPath(hp *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	st, err := os.Stat(hp.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(hp.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return configErrorf("hostPath %s: %v", hp.Path, err)
	}
	check := map[corev1.HostPathType]func() bool{
		corev1.HostPathDirectory:         st.IsDir,
		corev1.HostPathDirectoryOrCreate: st.IsDir,
		corev1.HostPathFile:              st.Mode().IsRegular,
		corev1.HostPathFileOrCreate:      st.Mode().IsRegular,
		corev1.HostPathSocket:            func() bool { return st.Mode()&os.ModeSocket != 0 },
		corev1.HostPathCharDev:           func() bool { return st.Mode()&os.ModeCharDevice != 0 },
		corev1.HostPathBlockDev:          func() bool { return st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0 },
	}[t]
	if check != nil && !check() {
		return configErrorf("hostPath %s is not a %s", hp.Path, t)
	}
	return nil
}

// volumeFile is one file of a config map, secret or downward API volume.
type volumeFile struct {
	path string
	data []byte
	mode *int32
	uid  *int64 // the file's owner, when not root
}

func keyFiles(data map[string][]byte, items []corev1.KeyToPath, optional bool, what string) ([]volumeFile, error) {
	var files []volumeFile
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			files = append(files, volumeFile{path: k, data: data[k]})
		}
		return files, nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, configErrorf("couldn't find key %s in %s", it.Key, what)
		}
		files = append(files, volumeFile{path: it.Path, data: d, mode: it.Mode})
	}
	return files, nil
}

func (a *Agent) configMapFiles(ctx context.Context, refs *podRefs, name string, items []corev1.KeyToPath, optional bool) ([]volumeFile, error) {
	cm, err := refs.configMap(ctx, name)
	if err != nil {
		if optional && isConfigError(err) {
			return nil, nil
		}
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, optional, "ConfigMap "+refs.ns+"/"+name)
}

func (a *Agent) secretFiles(ctx context.Context, refs *podRefs, name string, items []corev1.KeyToPath, optional bool) ([]volumeFile, error) {
	s, err := refs.secret(ctx, name)
	if err != nil {
		if optional && isConfigError(err) {
			return nil, nil
		}
		return nil, err
	}
	return keyFiles(s.Data, items, optional, "Secret "+refs.ns+"/"+name)
}

func (a *Agent) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, podIPs []string) ([]volumeFile, error) {
	var files []volumeFile
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = a.podField(pod, it.FieldRef.FieldPath, podIPs)
		case it.ResourceFieldRef != nil:
			var c *corev1.Container
			if len(pod.Spec.Containers) > 0 {
				c = &pod.Spec.Containers[0]
			}
			v, err = a.resourceField(pod, c, it.ResourceFieldRef)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, volumeFile{path: it.Path, data: []byte(v), mode: it.Mode})
	}
	return files, nil
}

func (a *Agent) projectedFiles(ctx context.Context, refs *podRefs, pod *corev1.Pod, volume string, src *corev1.ProjectedVolumeSource, podIPs []string) ([]volumeFile, error) {
	// As upstream: credentials (tokens, trust anchors, pod certificates)
	// belong to the user every container of the pod runs as, when there is
	// one, and are readable by that user alone (and the fsGroup, if any).
	fsUser := fsUserOf(pod)
	var credMode *int32
	if fsUser != nil || fsGroupOf(pod) != nil {
		credMode = ptr.To(int32(0o600))
	}
	var files []volumeFile
	for i, s := range src.Sources {
		var more []volumeFile
		var err error
		cred := false
		switch {
		case s.ConfigMap != nil:
			more, err = a.configMapFiles(ctx, refs, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional != nil && *s.ConfigMap.Optional)
		case s.Secret != nil:
			more, err = a.secretFiles(ctx, refs, s.Secret.Name, s.Secret.Items, s.Secret.Optional != nil && *s.Secret.Optional)
		case s.DownwardAPI != nil:
			more, err = a.downwardFiles(pod, s.DownwardAPI.Items, podIPs)
		case s.ServiceAccountToken != nil:
			more, err = a.tokenFiles(ctx, refs, pod, s.ServiceAccountToken)
			cred = true
		case s.ClusterTrustBundle != nil:
			more, err = a.trustBundleFiles(ctx, s.ClusterTrustBundle)
			cred = true
		case s.PodCertificate != nil:
			more, err = a.podCertFiles(ctx, refs, pod, volume, i, s.PodCertificate)
			cred = true
		default:
			err = configErrorf("projected volume source not supported by Skiff (configMap, secret, downwardAPI, serviceAccountToken, clusterTrustBundle and podCertificate are)")
		}
		if err != nil {
			return nil, err
		}
		if cred {
			for j := range more {
				more[j].mode, more[j].uid = credMode, fsUser
			}
		}
		files = append(files, more...)
	}
	return files, nil
}

// fsUserOf is the user every container of the pod runs as (init and
// ephemeral ones included), or nil when one has none set or two differ, as
// upstream's FsUserFrom.
func fsUserOf(pod *corev1.Pod) *int64 {
	var user *int64
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, ec := range pod.Spec.EphemeralContainers {
		all = append(all, corev1.Container(ec.EphemeralContainerCommon))
	}
	for i := range all {
		var u *int64
		if sc := pod.Spec.SecurityContext; sc != nil && sc.RunAsUser != nil {
			u = sc.RunAsUser
		}
		if sc := all[i].SecurityContext; sc != nil && sc.RunAsUser != nil {
			u = sc.RunAsUser
		}
		if u == nil || user != nil && *user != *u {
			return nil
		}
		user = ptr.To(*u)
	}
	return user
}
