package hollow_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/hollow"
)

// TestPodsExitAsTheirCommandSays: pods that do not restart always run their
// command to its end, and the pod's phase follows.
func TestPodsExitAsTheirCommandSays(t *testing.T) {
	c, ctx := startCluster(t)
	runNode(t, ctx, c.Client, hollow.Options{Name: "hollow-9"})
	mk := func(name string, policy corev1.RestartPolicy, command ...string) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{
				NodeName:      "hollow-9",
				RestartPolicy: policy,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: command}},
			},
		}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) *corev1.Pod {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	created := time.Now()
	mk("ok", corev1.RestartPolicyNever, "sh", "-c", "exit 0")
	mk("fails", corev1.RestartPolicyNever, "/bin/sh", "-c", "echo boom; exit 3")
	mk("sleeps", corev1.RestartPolicyNever, "sleep", "2")
	mk("server", corev1.RestartPolicyNever)
	mk("retries", corev1.RestartPolicyOnFailure, "false")
	mk("always", corev1.RestartPolicyAlways, "sh", "-c", "exit 1")

	wantEnd := func(name string, phase corev1.PodPhase, code int32, reason string) *corev1.Pod {
		t.Helper()
		var p *corev1.Pod
		eventually(t, 10*time.Second, name+" "+string(phase), func() (bool, error) {
			p = get(name)
			return p.Status.Phase == phase, nil
		})
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].State.Terminated == nil || cs[0].State.Terminated.ExitCode != code || cs[0].State.Terminated.Reason != reason || cs[0].Ready {
			t.Fatalf("pod %s: container status %+v, want terminated with %d (%s)", name, cs, code, reason)
		}
		if ready := podCondition(p, corev1.PodReady); ready == nil || ready.Status != corev1.ConditionFalse {
			t.Fatalf("pod %s: Ready condition %+v, want False", name, ready)
		}
		return p
	}
	wantEnd("ok", corev1.PodSucceeded, 0, "Completed")
	wantEnd("fails", corev1.PodFailed, 3, "Error")
	wantEnd("sleeps", corev1.PodSucceeded, 0, "Completed")
	if d := time.Since(created); d < 2*time.Second {
		t.Fatalf("sleep 2 ended after %v", d)
	}

	eventually(t, 10*time.Second, "retries restarted", func() (bool, error) {
		p := get("retries")
		cs := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodRunning && len(cs) == 1 && cs[0].RestartCount >= 2 &&
			cs[0].LastTerminationState.Terminated != nil && cs[0].LastTerminationState.Terminated.ExitCode == 1, nil
	})
	for _, name := range []string{"server", "always"} {
		if p := get(name); p.Status.Phase != corev1.PodRunning || p.Status.ContainerStatuses[0].State.Running == nil {
			t.Fatalf("pod %s: %s, want it running still", name, p.Status.Phase)
		}
	}

	// A finished pod is deleted as any other.
	if err := c.Client.CoreV1().Pods("default").Delete(ctx, "ok", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "ok deleted", func() (bool, error) {
		_, err := c.Client.CoreV1().Pods("default").Get(context.Background(), "ok", metav1.GetOptions{})
		return err != nil, nil
	})
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestDeletedPodWithFinalizerEnds: a pod whose object outlives its
// containers (a finalizer holds it) is posted Failed, its containers
// terminated with 143, before the node lets it go.
func TestDeletedPodWithFinalizerEnds(t *testing.T) {
	c, ctx := startCluster(t)
	runNode(t, ctx, c.Client, hollow.Options{Name: "hollow-8"})
	p := pod("held", "hollow-8")
	p.Finalizers = []string{"example.com/hold"}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c.Client, "held")
	if err := c.Client.CoreV1().Pods("default").Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	eventually(t, 5*time.Second, "held Failed", func() (bool, error) {
		var err error
		got, err = c.Client.CoreV1().Pods("default").Get(ctx, "held", metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.PodFailed, err
	})
	for _, cs := range got.Status.ContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 143 {
			t.Fatalf("container %s: %+v, want terminated with 143", cs.Name, cs.State)
		}
	}
	got.Finalizers = nil
	if _, err := c.Client.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "held gone", func() (bool, error) {
		_, err := c.Client.CoreV1().Pods("default").Get(ctx, "held", metav1.GetOptions{})
		return err != nil, nil
	})
}
