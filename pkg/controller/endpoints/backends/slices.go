package backends

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SliceWriter writes the EndpointSlices of one controller and records each
// write in Writes, under the key of the object the slices belong to.
type SliceWriter struct {
	Client kubernetes.Interface
	Writes *Writes
}

// Apply creates, updates and deletes slices of one owner, named by what
// (`Service "ns/name"`) in errors. While the owner is being deleted nothing
// is created: the garbage collector is removing its slices. A namespace
// being terminated ends the creates quietly: they would fail until it is gone.
func (w SliceWriter) Apply(ctx context.Context, key, what string, ownerDeleting bool, create, update, del []*discoveryv1.EndpointSlice) error {
	if !ownerDeleting {
		for _, s := range create {
			created, err := w.Client.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("creating EndpointSlice for %s: %w", what, err)
			}
			w.Writes.Wrote(key, created)
		}
	}
	for _, s := range update {
		updated, err := w.Client.DiscoveryV1().EndpointSlices(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("updating EndpointSlice %q for %s: %w", s.Name, what, err)
		}
		w.Writes.Wrote(key, updated)
	}
	return w.DeleteAll(ctx, key, del)
}

// DeleteAll deletes slices, each only while it is the object that was
// listed (a UID precondition); one gone already, or replaced, is no error.
func (w SliceWriter) DeleteAll(ctx context.Context, key string, ss []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, s := range ss {
		err := w.Client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		switch {
		case err == nil:
			w.Writes.Deleted(key, s.UID)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		default:
			errs = append(errs, fmt.Errorf("deleting EndpointSlice %q in namespace %q: %w", s.Name, s.Namespace, err))
		}
	}
	return errors.Join(errs...)
}
