package endpointslicemirroring

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Reasons of the events recorded on a mirrored Endpoints object, as upstream's.
const (
	reasonInvalidIP = "InvalidIPAddress"
	reasonTooMany   = "TooManyAddressesToMirror"
)

// sync makes the mirrored slices of the Endpoints named key match it, or
// removes them when it should not be mirrored (any more).
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not ours: drop it
	}
	existing, err := c.mirroredSlices(ns, name)
	if err != nil {
		return err
	}
	ep, err := c.toMirror(ns, name)
	if err != nil {
		return err
	}
	if ep == nil {
		// Forgetting our writes makes any that the cache still lacks count as
		// someone else's when they show: they get this key synced, and deleted.
		c.writes.Forget(key)
		return c.deleteAll(ctx, key, existing)
	}
	var cached []metav1.Object
	for _, s := range existing {
		cached = append(cached, s)
	}
	if c.writes.Stale(key, cached) {
		// The event that completes our own write re-queues the key; the retry
		// is the fallback should it never come.
		return workers.After(time.Second, errStale)
	}

	m := mirrorOf(ep, c.opts.MaxEndpointsPerSubset)
	if m.invalid > 0 {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, reasonInvalidIP,
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", m.invalid)
	}
	if m.overCap > 0 {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, reasonTooMany,
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped",
			c.opts.MaxEndpointsPerSubset, m.overCap+m.invalid)
	}
	return c.apply(ctx, key, ep, plan(m.slices, existing))
}

// toMirror is the Endpoints named ns/name if it is to be mirrored: it allows
// it and its Service exists without a selector (one with a selector has its
// slices from the endpointslice controller, whoever writes its Endpoints).
func (c *Controller) toMirror(ns, name string) (*corev1.Endpoints, error) {
	ep, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !shouldMirror(ep) || backends.HasSelector(svc) {
		return nil, nil
	}
	return ep, nil
}

// mirroredSlices are the live slices this controller made for the Endpoints,
// by name. Ones already being deleted are left to finish.
func (c *Controller) mirroredSlices(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	list, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}))
	if err != nil {
		return nil, err
	}
	list = slices.DeleteFunc(slices.Clone(list), func(s *discoveryv1.EndpointSlice) bool { return s.DeletionTimestamp != nil })
	slices.SortFunc(list, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// changes are the writes of one sync.
type changes struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// plan matches each wanted slice with an existing one of its address type and
// ports (updated only if it differs), creates the rest, and deletes what is
// left over; a slice that would be deleted while another of its address type
// is created is reused for it instead.
func plan(want, existing []*discoveryv1.EndpointSlice) changes {
	var ch changes
	unused := slices.Clone(existing)
	for _, w := range want {
		i := slices.IndexFunc(unused, func(s *discoveryv1.EndpointSlice) bool {
			return s.AddressType == w.AddressType && apiequality.Semantic.DeepEqual(s.Ports, w.Ports)
		})
		if i < 0 {
			ch.create = append(ch.create, w)
			continue
		}
		s := unused[i]
		unused = slices.Delete(unused, i, i+1)
		if !upToDate(s, w) {
			ch.update = append(ch.update, reuse(s, w))
		}
	}
	creates := ch.create
	ch.create = nil
	for _, w := range creates {
		i := slices.IndexFunc(unused, func(s *discoveryv1.EndpointSlice) bool { return s.AddressType == w.AddressType })
		if i < 0 {
			ch.create = append(ch.create, w)
			continue
		}
		ch.update = append(ch.update, reuse(unused[i], w))
		unused = slices.Delete(unused, i, i+1)
	}
	ch.delete = unused
	return ch
}

// reuse makes w the next version of the existing slice s.
func reuse(s, w *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	w.Name, w.GenerateName, w.UID, w.ResourceVersion = s.Name, "", s.UID, s.ResourceVersion
	return w
}

// upToDate reports whether the existing slice s already says what w does.
func upToDate(s, w *discoveryv1.EndpointSlice) bool {
	return maps.Equal(s.Labels, w.Labels) && maps.Equal(s.Annotations, w.Annotations) &&
		apiequality.Semantic.DeepEqual(s.OwnerReferences, w.OwnerReferences) &&
		apiequality.Semantic.DeepEqual(s.Endpoints, w.Endpoints)
}

// apply writes the changes. Nothing is created for Endpoints being deleted:
// the garbage collector is removing their slices.
func (c *Controller) apply(ctx context.Context, key string, ep *corev1.Endpoints, ch changes) error {
	return c.sliceWriter().Apply(ctx, key, fmt.Sprintf("Endpoints %s/%s", ep.Namespace, ep.Name),
		ep.DeletionTimestamp != nil, ch.create, ch.update, ch.delete)
}

func (c *Controller) deleteAll(ctx context.Context, key string, ss []*discoveryv1.EndpointSlice) error {
	return c.sliceWriter().DeleteAll(ctx, key, ss)
}

func (c *Controller) sliceWriter() backends.SliceWriter {
	return backends.SliceWriter{Client: c.client, Writes: c.writes}
}
