package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Resource is a kind the collector watches: objects of it can own others and be
// owned.
type Resource struct {
	schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// DefaultResources are the kinds Skiff serves that take part in ownership
// (events do not).
var DefaultResources = []Resource{
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, "ReplicationController", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, "Endpoints", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "Secret", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "ServiceAccount", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node", false},
	{schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, "EndpointSlice", true},
	{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, "Lease", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "podtemplates"}, "PodTemplate", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "PersistentVolumeClaim", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}, "PersistentVolume", false},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSet", true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet", true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet", true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, "ControllerRevision", true},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job", true},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob", true},
	{schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "PodDisruptionBudget", true},
}

// Options tune the collector.
type Options struct {
	// Resources are the kinds to watch (default DefaultResources). Each must be
	// a built-in kind the informer factory knows.
	Resources []Resource
	// Workers is how many objects are examined at once (default 20, as upstream).
	Workers int
	// Logger receives the collector's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if len(o.Resources) == 0 {
		o.Resources = DefaultResources
	}
	if o.Workers <= 0 {
		o.Workers = 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller is the garbage collector.
type Controller struct {
	dyn   dynamic.Interface
	opts  Options
	log   *slog.Logger
	kinds []*kind
	byGK  map[schema.GroupKind]*kind

	// attemptToDelete holds objects that may be garbage and owners waiting for
	// their dependents; attemptToOrphan holds owners to orphan from.
	attemptToDelete workqueue.TypedRateLimitingInterface[item]
	attemptToOrphan workqueue.TypedRateLimitingInterface[item]

	absent *uidSet // owners confirmed gone (UIDs are never reused)
}

type kind struct {
	Resource
	index    int
	informer cache.SharedIndexInformer
}

// item names one object the collector must look at.
type item struct {
	kind            int
	namespace, name string
	uid             types.UID
}

// ownerIndex files every object under the UIDs of its owners, so an owner's
// dependents are found without scanning.
const ownerIndex = "garbagecollector.skiff/owner-uid"

func ownerUIDs(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = string(r.UID)
	}
	return out, nil
}

// New registers the collector's informers and handlers on factory; the caller
// starts the factory, then calls Run. Writes (deletes, patches) go through dyn.
func New(dyn dynamic.Interface, factory informers.SharedInformerFactory, opts Options) (*Controller, error) {
	opts.setDefaults()
	c := &Controller{
		dyn:  dyn,
		opts: opts,
		log:  opts.Logger.With("controller", "garbagecollector"),
		byGK: map[schema.GroupKind]*kind{},
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[item](),
			workqueue.TypedRateLimitingQueueConfig[item]{Name: "garbage_collector_attempt_to_delete"}),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[item](),
			workqueue.TypedRateLimitingQueueConfig[item]{Name: "garbage_collector_attempt_to_orphan"}),
		absent: newUIDSet(100000),
	}
	for i, r := range opts.Resources {
		gi, err := factory.ForResource(r.GroupVersionResource)
		if err != nil {
			return nil, fmt.Errorf("garbage collector: watching %s: %w", r.GroupVersionResource, err)
		}
		k := &kind{Resource: r, index: i, informer: gi.Informer()}
		if err := k.informer.AddIndexers(cache.Indexers{ownerIndex: ownerUIDs}); err != nil {
			return nil, fmt.Errorf("garbage collector: indexing %s: %w", r.GroupVersionResource, err)
		}
		_, _ = k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onAdd(k, obj) },
			UpdateFunc: func(old, cur any) { c.onUpdate(k, old, cur) },
			DeleteFunc: func(obj any) { c.onDelete(k, obj) },
		})
		c.kinds = append(c.kinds, k)
		c.byGK[schema.GroupKind{Group: r.Group, Kind: r.Kind}] = k
	}
	return c, nil
}

// Run collects garbage until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.attemptToDelete.ShutDown()
	defer c.attemptToOrphan.ShutDown()
	synced := make([]cache.InformerSynced, len(c.kinds))
	for i, k := range c.kinds {
		synced[i] = k.informer.HasSynced
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for c.next(ctx, c.attemptToDelete, c.processDelete) {
			}
		})
		wg.Go(func() {
			for c.next(ctx, c.attemptToOrphan, c.processOrphan) {
			}
		})
	}
	<-ctx.Done()
	c.attemptToDelete.ShutDown()
	c.attemptToOrphan.ShutDown()
	wg.Wait()
	return nil
}

func (c *Controller) next(ctx context.Context, q workqueue.TypedRateLimitingInterface[item], process func(context.Context, item) error) bool {
	it, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(it)
	if err := process(ctx, it); err != nil {
		if ctx.Err() == nil {
			c.log.Debug("retrying", "resource", c.kinds[it.kind].GroupVersionResource, "namespace", it.namespace, "name", it.name, "err", err)
		}
		q.AddRateLimited(it)
		return true
	}
	q.Forget(it)
	return true
}

func itemOf(k *kind, m metav1.Object) item {
	return item{kind: k.index, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}
}

func accessor(obj any) metav1.Object {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return m
}

func hasFinalizer(m metav1.Object, f string) bool { return slices.Contains(m.GetFinalizers(), f) }

// deletingDependents: being deleted in the foreground, waiting for dependents.
func deletingDependents(m metav1.Object) bool {
	return m.GetDeletionTimestamp() != nil && hasFinalizer(m, metav1.FinalizerDeleteDependents)
}

func (c *Controller) onAdd(k *kind, obj any) {
	if m := accessor(obj); m != nil {
		c.examine(k, m)
	}
}

func (c *Controller) onUpdate(k *kind, old, cur any) {
	o, n := accessor(old), accessor(cur)
	if o == nil || n == nil {
		return
	}
	deletion := (o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) || !slices.Equal(o.GetFinalizers(), n.GetFinalizers())
	refs := !ownerRefsEqual(o.GetOwnerReferences(), n.GetOwnerReferences())
	if deletion || refs {
		c.examine(k, n)
	}
	if refs {
		// An owner in foreground deletion may have lost a blocking dependent.
		c.wakeWaitingOwners(k, o)
	}
}

func (c *Controller) onDelete(k *kind, obj any) {
	m := accessor(obj)
	if m == nil {
		return
	}
	c.absent.add(m.GetUID())
	for _, d := range c.dependents(m.GetUID()) {
		c.attemptToDelete.Add(d.item)
	}
	c.wakeWaitingOwners(k, m)
}

// examine queues an object that needs the collector: it is being deleted with
// a propagation finalizer, or one of its owners is not (or no longer) known to
// the caches, or is waiting for its dependents to go.
func (c *Controller) examine(k *kind, m metav1.Object) {
	if m.GetDeletionTimestamp() != nil {
		if hasFinalizer(m, metav1.FinalizerOrphanDependents) {
			c.attemptToOrphan.Add(itemOf(k, m))
		}
		if hasFinalizer(m, metav1.FinalizerDeleteDependents) {
			c.attemptToDelete.Add(itemOf(k, m))
		}
		return
	}
	for _, ref := range m.GetOwnerReferences() {
		owner, ok := c.cachedOwner(k, m, ref)
		if !ok || deletingDependents(owner) {
			c.attemptToDelete.Add(itemOf(k, m))
			return
		}
	}
}

// wakeWaitingOwners queues the owners of m that wait for their dependents.
func (c *Controller) wakeWaitingOwners(k *kind, m metav1.Object) {
	for _, ref := range m.GetOwnerReferences() {
		owner, ok := c.cachedOwner(k, m, ref)
		if ok && deletingDependents(owner) {
			c.attemptToDelete.Add(itemOf(c.kindOf(ref), owner))
		}
	}
}

func ownerRefsEqual(a, b []metav1.OwnerReference) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.OwnerReference) bool {
		return x.UID == y.UID && x.Name == y.Name && x.Kind == y.Kind && x.APIVersion == y.APIVersion &&
			boolEq(x.Controller, y.Controller) && boolEq(x.BlockOwnerDeletion, y.BlockOwnerDeletion)
	})
}

func boolEq(a, b *bool) bool { return (a != nil && *a) == (b != nil && *b) }
