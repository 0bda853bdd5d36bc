package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// drainedAnnotation marks a Node the agent cordoned itself when it shut down,
// so that its next start uncordons it (and leaves an admin's cordon alone).
const drainedAnnotation = "skiff.io/drained-by-agent"

// drainNode cordons the node and evicts its pods (all but DaemonSet and
// mirror pods, as `kubectl drain --ignore-daemonsets` does), then waits until
// they are gone or ctx ends.
func drainNode(ctx context.Context, client kubernetes.Interface, node string, out io.Writer) error {
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("draining node %q: %w", node, err)
	}
	if !n.Spec.Unschedulable {
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{drainedAnnotation: "true"}},
			"spec":     map[string]any{"unschedulable": true},
		})
		if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cordoning node %q: %w", node, err)
		}
	}
	fmt.Fprintf(out, "Draining node %q: cordoned, evicting its pods\n", node)
	for {
		pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		if err != nil {
			return fmt.Errorf("draining node %q: %w", node, err)
		}
		left := 0
		for i := range pods.Items {
			p := &pods.Items[i]
			if skipDrain(p) {
				continue
			}
			left++
			if p.DeletionTimestamp != nil {
				continue
			}
			err := client.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsTooManyRequests(err) {
				return fmt.Errorf("evicting pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		}
		if left == 0 {
			fmt.Fprintf(out, "Node %q drained\n", node)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining node %q: %d pods still there: %w", node, left, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func skipDrain(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// uncordonIfDrained undoes the agent's own cordon from its last shutdown.
func uncordonIfDrained(ctx context.Context, client kubernetes.Interface, node string) error {
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Annotations[drainedAnnotation] != "true" {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{drainedAnnotation: nil}},
		"spec":     map[string]any{"unschedulable": false},
	})
	_, err = client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}
