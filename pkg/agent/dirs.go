package agent

import (
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// podDir is the pod's directory, DATA_DIR/agent/pods/NAMESPACE_NAME_UID. It is
// the CRI log directory (CONTAINER/RESTARTCOUNT.log); the agent's own files
// use names with an underscore, which no container name can have.
func (a *Agent) podDir(pod *corev1.Pod) string {
	return a.agentDir("pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

func (a *Agent) hostsFile(pod *corev1.Pod) string { return filepath.Join(a.podDir(pod), "_hosts") }

func (a *Agent) volumeDir(pod *corev1.Pod, kind, name string) string {
	return filepath.Join(a.podDir(pod), "_volumes", kind, name)
}

// terminationLog is the file mounted at a container's terminationMessagePath.
func (a *Agent) terminationLog(pod *corev1.Pod, container string, restartCount int) string {
	return filepath.Join(a.podDir(pod), container, fmt.Sprintf("%d.termination-log", restartCount))
}

// podCgroup is the pod's cgroup parent.
func (a *Agent) podCgroup(uid string) string { return a.opts.CgroupRoot + "/pod" + uid }

// removePodFiles removes the pod's directory and its (empty by now) cgroups.
func (a *Agent) removePodFiles(pod *corev1.Pod) {
	a.removePodDir(a.podDir(pod), string(pod.UID))
}

// removePodDir unmounts what the agent mounted below a pod's directory
// (memory-backed emptyDirs, subPaths), then removes it and the pod's cgroups.
func (a *Agent) removePodDir(dir, uid string) {
	if err := unmountUnder(dir); err != nil {
		a.log.Warn("unmounting the pod's volumes", "dir", dir, "err", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		a.log.Warn("removing pod directory", "dir", dir, "err", err)
	}
	removePodCgroup(a.podCgroup(uid))
}

// removePodCgroup removes the pod's cgroup directory from every hierarchy;
// runc removes the containers' own, not their parent.
func removePodCgroup(cgroup string) {
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, m := range append(mounts, "/sys/fs/cgroup") {
		_ = os.Remove(filepath.Join(m, cgroup))
	}
}

func klogKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
