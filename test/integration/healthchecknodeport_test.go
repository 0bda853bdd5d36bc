package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/test/harness"
)

const localLB = `apiVersion: v1
kind: Service
metadata:
  name: %s
  labels: {rev: "%d"}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports:
  - port: 80
%s`

// TestHealthCheckNodePort: a LoadBalancer Service with externalTrafficPolicy
// Local gets a health check node port from the NodePort range, as upstream
// does; it keeps it across updates, gives it up with Local, never shares it
// with a node port, even under concurrent creates, and the ports stay taken
// across a restart of the server.
func TestHealthCheckNodePort(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := newestKubectl(t)
	var held int32 // a health check port web holds when the server stops

	t.Run("allocate", func(t *testing.T) {
		c := harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir})
		svcs := c.Client.CoreV1().Services("default")
		c.MustRun(t, k, fmt.Sprintf(localLB, "web", 1, ""), "apply", "-f", "-")
		web, err := svcs.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hc, np := web.Spec.HealthCheckNodePort, web.Spec.Ports[0].NodePort
		if hc < 30000 || hc > 32767 || hc == np {
			t.Fatalf("healthCheckNodePort %d (nodePort %d), want a port of 30000-32767 of its own", hc, np)
		}
		mustContain(t, "get svc -o yaml", c.MustRun(t, k, "", "get", "svc", "web", "-o", "yaml"),
			fmt.Sprintf("\n  healthCheckNodePort: %d\n", hc))

		// A client that omits them (replace sends no allocated fields) keeps
		// both ports.
		c.MustRun(t, k, fmt.Sprintf(localLB, "web", 2, ""), "replace", "-f", "-")
		want := fmt.Sprintf("2 %d %d", hc, np)
		if got := c.MustRun(t, k, "", "get", "svc", "web", "-o", "jsonpath={.metadata.labels.rev} {.spec.healthCheckNodePort} {.spec.ports[0].nodePort}"); got != want {
			t.Fatalf("after replace: %q, want %q", got, want)
		}

		for _, bad := range []struct{ manifest, want string }{
			{fmt.Sprintf(localLB, "dup", 1, fmt.Sprintf("  healthCheckNodePort: %d\n", np)),
				fmt.Sprintf("spec.healthCheckNodePort: Invalid value: %d: provided port is already allocated", np)},
			{fmt.Sprintf(localLB, "dup", 1, fmt.Sprintf("  healthCheckNodePort: %d\n", hc)),
				fmt.Sprintf("spec.healthCheckNodePort: Invalid value: %d: provided port is already allocated", hc)},
			{strings.Replace(fmt.Sprintf(localLB, "dup", 1, ""), "  - port: 80", fmt.Sprintf("  - port: 80\n    nodePort: %d", hc), 1),
				fmt.Sprintf("spec.ports[0].nodePort: Invalid value: %d: provided port is already allocated", hc)},
			{fmt.Sprintf(localLB, "dup", 1, "  healthCheckNodePort: 20000\n"),
				"spec.healthCheckNodePort: Invalid value: 20000: provided port is not in the valid range. The range of valid ports is 30000-32767"},
			{strings.Replace(fmt.Sprintf(localLB, "dup", 1, "  healthCheckNodePort: 31999\n"), "type: LoadBalancer", "type: NodePort", 1),
				"spec.healthCheckNodePort: Invalid value: 31999: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"},
		} {
			_, errOut, err := c.Run(k, bad.manifest, "create", "-f", "-")
			if err == nil || !strings.Contains(errOut, bad.want) {
				t.Errorf("kubectl create:\n%s\nerr %v, stderr %q; want %q", bad.manifest, err, errOut, bad.want)
			}
		}

		// Concurrent creates: every node port and health check port is distinct.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("many-%d", i)}, Spec: corev1.ServiceSpec{
					Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
					Ports: []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 81}}}}
				_, err := svcs.Create(ctx, s, metav1.CreateOptions{})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent create: %v", err)
			}
		}
		list, err := svcs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		owner := map[int32]string{}
		claim := func(port int32, what string) {
			if prev, ok := owner[port]; ok {
				t.Errorf("port %d is both %s and %s", port, prev, what)
			}
			owner[port] = what
		}
		for _, s := range list.Items {
			for _, p := range s.Spec.Ports {
				if p.NodePort != 0 {
					claim(p.NodePort, s.Name+" nodePort")
				}
			}
			if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
				if s.Spec.HealthCheckNodePort == 0 {
					t.Errorf("%s: no healthCheckNodePort", s.Name)
				}
				claim(s.Spec.HealthCheckNodePort, s.Name+" healthCheckNodePort")
			}
		}

		// Cluster policy releases it (the field goes); Local again allocates one.
		if _, err := svcs.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"externalTrafficPolicy":"Cluster"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("Local -> Cluster: %v", err)
		}
		if out := c.MustRun(t, k, "", "get", "svc", "web", "-o", "yaml"); strings.Contains(out, "healthCheckNodePort") {
			t.Fatalf("healthCheckNodePort kept with externalTrafficPolicy Cluster:\n%s", out)
		}
		// The released port is free for another Service to ask for.
		c.MustRun(t, k, fmt.Sprintf(localLB, "reuse", 1, fmt.Sprintf("  healthCheckNodePort: %d\n", hc)), "create", "-f", "-")
		web, err = svcs.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"externalTrafficPolicy":"Local"}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("Cluster -> Local: %v", err)
		}
		held = web.Spec.HealthCheckNodePort
		if held == 0 || held == hc || held == web.Spec.Ports[0].NodePort {
			t.Fatalf("healthCheckNodePort %d back on Local (old %d, nodePort %d), want a new free one", held, hc, web.Spec.Ports[0].NodePort)
		}

		// A type change drops it too.
		out, err := svcs.Patch(ctx, "reuse", types.MergePatchType, []byte(`{"spec":{"type":"ClusterIP"}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("LoadBalancer -> ClusterIP: %v", err)
		}
		if out.Spec.HealthCheckNodePort != 0 {
			t.Fatalf("healthCheckNodePort %d kept on a ClusterIP Service", out.Spec.HealthCheckNodePort)
		}
	})
	if held == 0 {
		return
	}

	t.Run("after restart", func(t *testing.T) {
		c := harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir})
		_, errOut, err := c.Run(k, fmt.Sprintf(localLB, "late", 1, fmt.Sprintf("  healthCheckNodePort: %d\n", held)), "create", "-f", "-")
		want := fmt.Sprintf("spec.healthCheckNodePort: Invalid value: %d: provided port is already allocated", held)
		if err == nil || !strings.Contains(errOut, want) {
			t.Fatalf("asking for web's health check port after a restart: err %v, stderr %q; want %q", err, errOut, want)
		}
	})
}

// newestKubectl is the newest real kubectl on the machine.
func newestKubectl(t *testing.T) harness.Kubectl {
	ks := harness.Kubectls(t)
	return ks[len(ks)-1]
}
