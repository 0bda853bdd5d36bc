package agent

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/agent/cri"
)

// racyRuntime is a runtime whose container has just exited when it is
// stopped: the first kills fail as containerd's do when the shim is gone
// before the exit is seen ("ttrpc: closed"), later ones succeed.
type racyRuntime struct {
	runtimeapi.RuntimeServiceClient
	failStops   int
	stopCalls   int
	removed     []string
	containerUp bool
}

var errShimGone = errors.New(`rpc error: code = Unknown desc = failed to kill container "c1": ttrpc: closed: unknown`)

func (r *racyRuntime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest, ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: []*runtimeapi.PodSandbox{{Id: "sb1", Labels: map[string]string{labelPodUID: "u1", labelPodNamespace: "default", labelPodName: "crasher"}}}}, nil
}

func (r *racyRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: []*runtimeapi.Container{{Id: "c1", PodSandboxId: "sb1", State: runtimeapi.ContainerState_CONTAINER_RUNNING}}}, nil
}

func (r *racyRuntime) StopContainer(context.Context, *runtimeapi.StopContainerRequest, ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error) {
	return nil, errShimGone
}

func (r *racyRuntime) ContainerStatus(context.Context, *runtimeapi.ContainerStatusRequest, ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	// containerd has not processed the exit yet.
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: "c1", State: runtimeapi.ContainerState_CONTAINER_RUNNING}}, nil
}

func (r *racyRuntime) StopPodSandbox(context.Context, *runtimeapi.StopPodSandboxRequest, ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error) {
	r.stopCalls++
	if r.stopCalls <= r.failStops {
		return nil, errShimGone
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (r *racyRuntime) RemovePodSandbox(_ context.Context, req *runtimeapi.RemovePodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error) {
	r.removed = append(r.removed, req.PodSandboxId)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// TestRemovePodsWhileContainerExits: a container that exits while the agent
// removes its pod (a crash loop's) fails the kill; the sandbox is still
// stopped and removed, and no error is reported.
func TestRemovePodsWhileContainerExits(t *testing.T) {
	for _, failStops := range []int{0, 1, 2} {
		rt := &racyRuntime{failStops: failStops}
		a := newTestAgent(t)
		a.runtime = &cri.Client{RuntimeServiceClient: rt}
		if err := a.removeAllPods(context.Background()); err != nil {
			t.Fatalf("%d failed sandbox stops: %v", failStops, err)
		}
		if len(rt.removed) != 1 {
			t.Fatalf("%d failed sandbox stops: removed %v, want sb1", failStops, rt.removed)
		}
	}
	// A sandbox that never stops is reported, with the kill's error.
	rt := &racyRuntime{failStops: 10}
	a := newTestAgent(t)
	a.runtime = &cri.Client{RuntimeServiceClient: rt}
	err := a.removeAllPods(context.Background())
	if err == nil || len(rt.removed) != 0 {
		t.Fatalf("a sandbox that does not stop: err %v, removed %v", err, rt.removed)
	}
}
