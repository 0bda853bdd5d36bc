package agent

import (
	"context"
	"sort"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podState is what the runtime holds for one pod.
type podState struct {
	// sandboxes, newest first.
	sandboxes []*runtimeapi.PodSandbox
	// containers, newest first.
	containers []*containerState
}

// containerState is one container of a pod as the runtime reports it.
type containerState struct {
	id           string
	name         string
	sandboxID    string
	restartCount int
	hash         string
	resources    string // annotationResources: CPU and memory at creation, JSON
	init         bool
	created      time.Time
	state        runtimeapi.ContainerState
	// status is filled in for the containers the pod's status needs (the
	// newest two of each name).
	status *runtimeapi.ContainerStatus
}

// sandbox is the newest sandbox, or nil.
func (s *podState) sandbox() *runtimeapi.PodSandbox {
	if len(s.sandboxes) == 0 {
		return nil
	}
	return s.sandboxes[0]
}

// latest returns the newest container named name, and the one before it.
func (s *podState) latest(name string) (cur, prev *containerState) {
	for _, c := range s.containers {
		if c.name != name {
			continue
		}
		if cur == nil {
			cur = c
		} else {
			return cur, c
		}
	}
	return cur, nil
}

// inSandbox returns the newest container named name in sandbox id.
func (s *podState) inSandbox(name, id string) *containerState {
	for _, c := range s.containers {
		if c.name == name && c.sandboxID == id {
			return c
		}
	}
	return nil
}

// podState reads the pod's sandboxes and containers from the runtime.
func (a *Agent) podState(ctx context.Context, uid types.UID) (*podState, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sbs, err := a.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	cs, err := a.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	st := &podState{sandboxes: sbs.Items}
	sort.Slice(st.sandboxes, func(i, j int) bool {
		x, y := st.sandboxes[i], st.sandboxes[j]
		if x.GetMetadata().GetAttempt() != y.GetMetadata().GetAttempt() {
			return x.GetMetadata().GetAttempt() > y.GetMetadata().GetAttempt()
		}
		return x.CreatedAt > y.CreatedAt
	})
	for _, c := range cs.Containers {
		st.containers = append(st.containers, containerFromCRI(c))
	}
	sortNewestFirst(st.containers)
	seen := map[string]int{}
	for _, c := range st.containers {
		seen[c.name]++
		if seen[c.name] > 2 {
			continue
		}
		resp, err := a.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.id})
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		c.status = resp.Status
		c.state = resp.Status.State
	}
	return st, nil
}

func containerFromCRI(c *runtimeapi.Container) *containerState {
	rc, _ := strconv.Atoi(c.Annotations[annotationRestartCount])
	return &containerState{
		id:           c.Id,
		name:         c.GetMetadata().GetName(),
		sandboxID:    c.PodSandboxId,
		restartCount: rc,
		hash:         c.Annotations[annotationHash],
		resources:    c.Annotations[annotationResources],
		init:         c.Annotations[annotationInitContainer] == "true",
		created:      time.Unix(0, c.CreatedAt),
		state:        c.State,
	}
}

// sortNewestFirst orders containers by restart count, then creation time.
func sortNewestFirst(list []*containerState) {
	sort.Slice(list, func(i, j int) bool {
		x, y := list[i], list[j]
		if x.restartCount != y.restartCount {
			return x.restartCount > y.restartCount
		}
		return x.created.After(y.created)
	})
}
