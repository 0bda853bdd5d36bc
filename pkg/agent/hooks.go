package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runHook runs a postStart or preStop handler.
func (a *Agent) runHook(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, id string, h *corev1.LifecycleHandler, podIPs []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		resp, err := a.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: h.Exec.Command, Timeout: int64(timeout / time.Second)})
		if err != nil {
			return errors.New(grpcMessage(err))
		}
		if resp.ExitCode != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, resp.ExitCode, strings.TrimSpace(string(resp.Stdout)+string(resp.Stderr)))
		}
		return nil
	case h.HTTPGet != nil:
		port, err := resolvePort(h.HTTPGet.Port, spec)
		if err != nil {
			return err
		}
		host := h.HTTPGet.Host
		if host == "" && len(podIPs) > 0 {
			host = podIPs[0]
		}
		req, err := httpGetRequest(ctx, h.HTTPGet, host, port)
		if err != nil {
			return err
		}
		resp, err := a.dialer.HTTPClient(0).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %s", h.HTTPGet.Path, spec.Name, pod.Name, resp.Status)
		}
		return nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return nil
	}
	return nil
}
