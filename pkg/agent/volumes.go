package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// prepareVolumes makes the pod's volumes exist on the node and returns the
// host path of each by name. Config map, secret and downward API volumes are
// written again at every container start (not kept in sync in between).
func (a *Agent) prepareVolumes(ctx context.Context, refs *podRefs, pod *corev1.Pod, podIPs []string) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		var (
			p   string
			err error
		)
		switch {
		case v.EmptyDir != nil:
			p = a.volumeDir(pod, "empty-dir", v.Name)
			err = mkdirMode(p, 0o777)
		case v.HostPath != nil:
			p = v.HostPath.Path
			err = checkHostPath(v.HostPath)
		case v.ConfigMap != nil:
			p = a.volumeDir(pod, "configmap", v.Name)
			err = a.writeConfigMapVolume(ctx, refs, p, v.ConfigMap)
		case v.Secret != nil:
			p = a.volumeDir(pod, "secret", v.Name)
			err = a.writeSecretVolume(ctx, refs, p, v.Secret)
		case v.DownwardAPI != nil:
			p = a.volumeDir(pod, "downward-api", v.Name)
			err = a.writeDownwardVolume(pod, p, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode, podIPs)
		case v.Projected != nil:
			p = a.volumeDir(pod, "projected", v.Name)
			err = a.writeProjectedVolume(ctx, refs, pod, p, v.Projected, podIPs)
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

// volumeMounts turns a container's volumeMounts into CRI mounts.
func volumeMounts(c *corev1.Container, paths map[string]string) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := paths[m.Name]
		if !ok {
			return nil, configErrorf("volumeMount %q: no volume of that name", m.Name)
		}
		if m.SubPath != "" {
			if filepath.IsAbs(m.SubPath) || strings.Contains(m.SubPath, "..") {
				return nil, configErrorf("volumeMount %q: subPath %q must be a relative path without ..", m.Name, m.SubPath)
			}
			host = filepath.Join(host, m.SubPath)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := mkdirMode(host, 0o755); err != nil {
					return nil, err
				}
			}
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
}

// writeVolumeFiles replaces dir's content with files.
func writeVolumeFiles(dir string, files []volumeFile, defaultMode *int32) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if filepath.IsAbs(f.path) || strings.Contains(f.path, "..") {
			return configErrorf("invalid path %q in volume", f.path)
		}
		mode := int32(0o644)
		if defaultMode != nil {
			mode = *defaultMode
		}
		if f.mode != nil {
			mode = *f.mode
		}
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, os.FileMode(mode)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(mode)); err != nil {
			return err
		}
	}
	return nil
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

func (a *Agent) writeConfigMapVolume(ctx context.Context, refs *podRefs, dir string, src *corev1.ConfigMapVolumeSource) error {
	files, err := a.configMapFiles(ctx, refs, src.Name, src.Items, src.Optional != nil && *src.Optional)
	if err != nil {
		return err
	}
	return writeVolumeFiles(dir, files, src.DefaultMode)
}

func (a *Agent) writeSecretVolume(ctx context.Context, refs *podRefs, dir string, src *corev1.SecretVolumeSource) error {
	files, err := a.secretFiles(ctx, refs, src.SecretName, src.Items, src.Optional != nil && *src.Optional)
	if err != nil {
		return err
	}
	return writeVolumeFiles(dir, files, src.DefaultMode)
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

func (a *Agent) writeDownwardVolume(pod *corev1.Pod, dir string, items []corev1.DownwardAPIVolumeFile, mode *int32, podIPs []string) error {
	files, err := a.downwardFiles(pod, items, podIPs)
	if err != nil {
		return err
	}
	return writeVolumeFiles(dir, files, mode)
}

func (a *Agent) writeProjectedVolume(ctx context.Context, refs *podRefs, pod *corev1.Pod, dir string, src *corev1.ProjectedVolumeSource, podIPs []string) error {
	var files []volumeFile
	for _, s := range src.Sources {
		var more []volumeFile
		var err error
		switch {
		case s.ConfigMap != nil:
			more, err = a.configMapFiles(ctx, refs, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional != nil && *s.ConfigMap.Optional)
		case s.Secret != nil:
			more, err = a.secretFiles(ctx, refs, s.Secret.Name, s.Secret.Items, s.Secret.Optional != nil && *s.Secret.Optional)
		case s.DownwardAPI != nil:
			more, err = a.downwardFiles(pod, s.DownwardAPI.Items, podIPs)
		default:
			err = configErrorf("projected volume source not supported by Skiff (configMap, secret and downwardAPI are)")
		}
		if err != nil {
			return err
		}
		files = append(files, more...)
	}
	return writeVolumeFiles(dir, files, src.DefaultMode)
}
