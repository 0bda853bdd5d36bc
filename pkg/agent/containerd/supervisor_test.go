package containerd_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/agent/agenttest"
	"github.com/skiffhq/skiff/pkg/agent/containerd"
	"github.com/skiffhq/skiff/pkg/agent/cri"
	"github.com/skiffhq/skiff/pkg/images"
)

func TestPreflightNamesPackages(t *testing.T) {
	err := containerd.Preflight("/nonexistent/containerd", "/nonexistent/cni", false)
	if err == nil {
		t.Fatal("no error for missing binaries")
	}
	for _, want := range []string{"apt-get install", "containerd", "containernetworking-plugins", "/nonexistent/cni/bridge"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestSupervisedContainerd starts containerd in a test network namespace, runs
// a sandbox of Skiff's pause image, kills containerd and checks that the
// supervisor restarts it and that the sandbox survived.
func TestSupervisedContainerd(t *testing.T) {
	agenttest.RequireRuntime(t)
	ns := agenttest.NewNetNS(t)
	dir := agenttest.DataDir(t)
	cg := agenttest.CgroupRoot(t)
	s := agenttest.StartContainerd(t, dir, ns, cg)

	client, err := cri.Dial(s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := client.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "containerd" {
		t.Errorf("runtime %q, want containerd", v.RuntimeName)
	}
	img, err := client.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: images.PauseRef}})
	if err != nil || img.Image == nil {
		t.Fatalf("pause image %s not imported: %v", images.PauseRef, err)
	}

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "pause", Namespace: "test", Uid: "uid-1"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cg + "/pod-uid-1",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	sb, err := client.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}

	pid := s.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Restarts() == 0 || s.PID() == 0 || s.PID() == pid {
		if time.Now().After(deadline) {
			t.Fatalf("containerd was not restarted after SIGKILL")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := client.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := client.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.PodSandboxId})
	if err != nil {
		t.Fatalf("sandbox lost across the containerd restart: %v", err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("sandbox %s after the restart, want SANDBOX_READY", st.Status.State)
	}
	if _, err := client.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatalf("StopPodSandbox (the pause program must exit on SIGTERM): %v", err)
	}
	if _, err := client.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
}
