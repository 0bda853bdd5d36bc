// Package claim writes the ownership of pods for control loops that adopt
// orphans matching their selector and release pods that stopped matching:
// the patches, not the decisions. Each patch names the pod's uid, so the API
// server refuses it if the pod was replaced under the same name. It must not
// read caches nor decide which pods to claim.
package claim

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// patch is a strategic merge patch of a pod's ownerReferences and finalizers.
type patch struct {
	Metadata struct {
		UID             types.UID        `json:"uid"`
		OwnerReferences []map[string]any `json:"ownerReferences"`
		Finalizers      []string         `json:"finalizers,omitempty"`
		DropFinalizers  []string         `json:"$deleteFromPrimitiveList/finalizers,omitempty"`
	} `json:"metadata"`
}

// Adopt makes owner (of kind gvk) the controller of pod, and adds finalizers.
func Adopt(ctx context.Context, client kubernetes.Interface, owner metav1.Object, gvk schema.GroupVersionKind, pod *corev1.Pod, finalizers ...string) error {
	ref := metav1.NewControllerRef(owner, gvk)
	var p patch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	p.Metadata.Finalizers = finalizers
	return send(ctx, client, pod, p)
}

// Release removes owner's reference from pod, and the finalizers.
func Release(ctx context.Context, client kubernetes.Interface, owner types.UID, pod *corev1.Pod, finalizers ...string) error {
	var p patch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": owner}}
	p.Metadata.DropFinalizers = finalizers
	return send(ctx, client, pod, p)
}

func send(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, p patch) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patching the owner of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
