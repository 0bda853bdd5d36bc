package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// WriteMetrics writes the node's kubelet metrics in the Prometheus text
// format, for the agent's /metrics (nodes/NAME/proxy/metrics): the pods and
// containers the runtime runs and the workers the agent has, under the
// kubelet's metric names.
func (a *Agent) WriteMetrics(ctx context.Context, w io.Writer) error {
	if a.runtime == nil {
		return fmt.Errorf("the node agent is starting")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sbs, err := a.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	cs, err := a.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	readySandboxes := 0
	for _, sb := range sbs.Items {
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			readySandboxes++
		}
	}
	byState := map[string]int{}
	for _, c := range cs.Containers {
		switch c.State {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			byState["running"]++
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			byState["exited"]++
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			byState["created"]++
		default:
			byState["unknown"]++
		}
	}
	a.mu.Lock()
	workers := len(a.workers)
	a.mu.Unlock()

	_, err = fmt.Fprintf(w, `# HELP kubelet_node_name The node's name. The count is always 1.
# TYPE kubelet_node_name gauge
kubelet_node_name{node=%q} 1
# HELP kubelet_running_pods Number of pods that have a running pod sandbox
# TYPE kubelet_running_pods gauge
kubelet_running_pods %d
# HELP kubelet_running_containers Number of containers currently running
# TYPE kubelet_running_containers gauge
kubelet_running_containers{container_state="created"} %d
kubelet_running_containers{container_state="exited"} %d
kubelet_running_containers{container_state="running"} %d
kubelet_running_containers{container_state="unknown"} %d
# HELP kubelet_working_pods Number of pods the kubelet is actually running, broken down by lifecycle phase
# TYPE kubelet_working_pods gauge
kubelet_working_pods{config="known",lifecycle="sync",static=""} %d
`, a.opts.NodeName, readySandboxes, byState["created"], byState["exited"], byState["running"], byState["unknown"], workers)
	return err
}
