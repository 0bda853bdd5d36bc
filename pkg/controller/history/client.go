package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/util/retry"

	"github.com/skiffhq/skiff/pkg/controller/claim"
)

// Client reads revisions from an informer's cache and writes them through the
// API.
type Client struct {
	client kubernetes.Interface
	lister appslisters.ControllerRevisionLister
}

// NewClient returns a Client over client and lister.
func NewClient(client kubernetes.Interface, lister appslisters.ControllerRevisionLister) *Client {
	return &Client{client: client, lister: lister}
}

// List returns the revisions in parent's namespace that match selector and
// that parent controls or nobody does (the orphans parent may adopt).
func (c *Client) List(parent metav1.Object, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.lister.ControllerRevisions(parent.GetNamespace()).List(selector)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		if ref := metav1.GetControllerOfNoCopy(r); ref == nil || ref.UID == parent.GetUID() {
			out = append(out, r)
		}
	}
	return out, nil
}

// Create creates rev under the name PARENT-HASH. When that name is taken by a
// revision with the same data, that one is returned; when it is taken by
// other data, *collisionCount is incremented and the next name is tried.
func (c *Client) Create(ctx context.Context, parent metav1.Object, rev *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, errors.New("history: collisionCount must not be nil")
	}
	ns := parent.GetNamespace()
	clone := rev.DeepCopy()
	clone.Namespace = ns
	for {
		hash := Hash(rev, collisionCount)
		clone.Name = Name(parent.GetName(), hash)
		if clone.Labels == nil {
			clone.Labels = map[string]string{}
		}
		clone.Labels[HashLabel] = hash
		created, err := c.client.AppsV1().ControllerRevisions(ns).Create(ctx, clone, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return created, err
		}
		existing, err := c.client.AppsV1().ControllerRevisions(ns).Get(ctx, clone.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if bytes.Equal(existing.Data.Raw, clone.Data.Raw) {
			return existing, nil
		}
		*collisionCount++
	}
}

// UpdateRevision renumbers rev, retrying on conflicts with the latest copy.
func (c *Client) UpdateRevision(ctx context.Context, rev *appsv1.ControllerRevision, revision int64) (*appsv1.ControllerRevision, error) {
	clone := rev.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if clone.Revision == revision {
			return nil
		}
		clone.Revision = revision
		updated, err := c.client.AppsV1().ControllerRevisions(clone.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
		if err == nil {
			clone = updated
			return nil
		}
		if fresh, getErr := c.client.AppsV1().ControllerRevisions(clone.Namespace).Get(ctx, clone.Name, metav1.GetOptions{}); getErr == nil {
			clone = fresh
		}
		return err
	})
	return clone, err
}

// Delete deletes rev.
func (c *Client) Delete(ctx context.Context, rev *appsv1.ControllerRevision) error {
	return c.client.AppsV1().ControllerRevisions(rev.Namespace).Delete(ctx, rev.Name, metav1.DeleteOptions{})
}

// Adopt makes parent the controller of the orphan rev. The patch carries rev's
// UID, so a revision deleted and recreated under the same name is not adopted.
func (c *Client) Adopt(ctx context.Context, parent metav1.Object, parentKind schema.GroupVersionKind, rev *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if owner := metav1.GetControllerOfNoCopy(rev); owner != nil {
		return nil, fmt.Errorf("attempt to adopt revision %s/%s owned by %v", rev.Namespace, rev.Name, owner)
	}
	patch, err := claim.AdoptPatch(parent, parentKind, rev)
	if err != nil {
		return nil, err
	}
	return c.client.AppsV1().ControllerRevisions(parent.GetNamespace()).Patch(ctx, rev.Name,
		types.StrategicMergePatchType, patch, metav1.PatchOptions{})
}

// Release removes parent's ownerReference from rev. A revision already gone,
// or no longer parent's, is not an error: it returns nil, nil.
func (c *Client) Release(ctx context.Context, parent metav1.Object, rev *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	patch, err := claim.ReleasePatch(parent.GetUID(), rev)
	if err != nil {
		return nil, err
	}
	released, err := c.client.AppsV1().ControllerRevisions(rev.Namespace).Patch(ctx, rev.Name,
		types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil, nil
	}
	return released, err
}
