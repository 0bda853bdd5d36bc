package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestHostPortAdmission: the agent admits pods as a kubelet does. A pod
// bound to the node with a host port another pod holds is refused (Failed,
// with upstream's reason and message, and a Warning event) and nothing of it
// runs, ever; once the holder is gone a new pod gets the port. This is what
// the StatefulSet controller relies on to recreate a refused pod.
func TestHostPortAdmission(t *testing.T) {
	n := newTestNode(t, nil)
	withHostPort := func(name string) *corev1.Pod {
		p := kubiaPod(name)
		p.Spec.Containers[0].Ports[0].HostPort = 21017
		return p
	}
	n.create(withHostPort("holder"))
	n.waitPod("holder", 60*time.Second, "Running", running)

	refused := n.create(withHostPort("refused"))
	p := n.waitPod("refused", 30*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	const (
		wantReason = "NodePorts"
		wantMsg    = "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	)
	if p.Status.Reason != wantReason || p.Status.Message != wantMsg {
		t.Errorf("refused pod: reason %q message %q, want %q %q", p.Status.Reason, p.Status.Message, wantReason, wantMsg)
	}
	if len(p.Status.ContainerStatuses) != 0 || p.Status.StartTime == nil || p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("refused pod's status: startTime %v qos %q containers %+v", p.Status.StartTime, p.Status.QOSClass, p.Status.ContainerStatuses)
	}
	n.waitEvent(refused, corev1.EventTypeWarning, wantReason, strings.TrimPrefix(wantMsg, "Pod was rejected: "))

	// Several relists and resyncs later, still nothing of it in the runtime
	// and the same status.
	time.Sleep(3 * time.Second)
	uid := map[string]string{"io.kubernetes.pod.uid": string(refused.UID)}
	sbs, err := n.cri.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: uid}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := n.cri.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: uid}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sbs.Items) != 0 || len(cs.Containers) != 0 {
		t.Errorf("refused pod has %d sandboxes and %d containers in the runtime", len(sbs.Items), len(cs.Containers))
	}
	if p, err := n.client.CoreV1().Pods("default").Get(context.Background(), "refused", metav1.GetOptions{}); err != nil ||
		p.Status.Phase != corev1.PodFailed || p.Status.Reason != wantReason || len(p.Status.ContainerStatuses) != 0 {
		t.Errorf("refused pod later: %v %s", err, describe(p))
	}

	// Deleting the refused pod (as the StatefulSet controller does): the
	// agent finishes the deletion.
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "refused", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone("refused", 30*time.Second)

	// The holder goes; the port is free for the next pod.
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "holder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone("holder", 60*time.Second)
	n.create(withHostPort("successor"))
	n.waitPod("successor", 60*time.Second, "Running", running)
	gateway := strings.TrimSuffix(testPodCIDR, "0/24") + "1"
	if body, err := n.get(gateway, 21017, "/"); err != nil || body != "You've hit successor\n" {
		t.Errorf("GET http://%s:21017/ (hostPort) = %q, %v", gateway, body, err)
	}
}

// waitEvent waits for an event about the pod with the type, reason and
// message.
func (n *testNode) waitEvent(pod *corev1.Pod, typ, reason, message string) {
	n.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		list, err := n.client.CoreV1().Events(pod.Namespace).List(context.Background(), metav1.ListOptions{})
		if err == nil {
			seen = seen[:0]
			for _, e := range list.Items {
				if e.InvolvedObject.UID != pod.UID {
					continue
				}
				if e.Type == typ && e.Reason == reason && e.Message == message {
					return
				}
				seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	n.t.Errorf("no %s event %s %q about pod %s; saw %q", typ, reason, message, pod.Name, seen)
}
