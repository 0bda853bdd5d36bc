package pvcprotection

import (
	"context"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// claimIndex indexes pods by the claims ("namespace/name") their volumes name.
const claimIndex = "pvcprotection.claims"

// Options tune the controller.
type Options struct {
	// Workers is how many claims are checked at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// Controller releases claims being deleted once no pod uses them.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	claims corelisters.PersistentVolumeClaimLister
	pods   cache.Indexer
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers, index and handlers on factory;
// the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	claimInf := factory.Core().V1().PersistentVolumeClaims()
	podInf := factory.Core().V1().Pods()
	_ = podInf.Informer().AddIndexers(cache.Indexers{claimIndex: podClaimKeys})
	c := &Controller{
		client: client,
		opts:   opts,
		log:    opts.Logger.With("controller", "pvcprotection"),
		claims: claimInf.Lister(),
		pods:   podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{claimInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvcprotection"}),
	}
	_, _ = claimInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueClaim,
		UpdateFunc: func(_, cur any) { c.enqueueClaim(cur) },
	})
	// Any change to a pod may be the one that stops it holding a claim:
	// its deletion, its shutdown, or a new pod of the same name.
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueClaimsOf,
		UpdateFunc: func(old, cur any) {
			c.enqueueClaimsOf(old)
			c.enqueueClaimsOf(cur)
		},
		DeleteFunc: c.enqueueClaimsOf,
	})
	return c
}

func (c *Controller) enqueueClaim(obj any) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && deletionCandidate(pvc) {
		c.queue.Add(pvc.Namespace + "/" + pvc.Name)
	}
}

// enqueueClaimsOf queues the claims a pod names that are waiting on this finalizer.
func (c *Controller) enqueueClaimsOf(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	keys, _ := podClaimKeys(pod)
	for _, key := range keys {
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		if pvc, err := c.claims.PersistentVolumeClaims(ns).Get(name); err == nil && deletionCandidate(pvc) {
			c.queue.Add(key)
		}
	}
}

// Run releases claims until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("releasing the claim failed; retrying", "claim", key, "err", err)
	})
	return nil
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pvc, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !deletionCandidate(pvc) {
		return nil
	}
	used, err := c.inUse(ctx, pvc)
	if err != nil || used {
		return err // in use: the pod's events bring the claim back
	}
	pvc = pvc.DeepCopy()
	pvc.Finalizers = slices.DeleteFunc(pvc.Finalizers, func(f string) bool { return f == defaults.PVCProtectionFinalizer })
	_, err = c.client.CoreV1().PersistentVolumeClaims(ns).Update(ctx, pvc, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.log.Info("released claim: no pod uses it", "claim", key)
	}
	return err
}

// inUse asks the informer's cache first and, when it knows of no user, the
// API server: a pod created a moment ago may not have reached the cache,
// and releasing a claim too early loses data, keeping it too long does not.
func (c *Controller) inUse(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	cached, err := c.pods.ByIndex(claimIndex, pvc.Namespace+"/"+pvc.Name)
	if err != nil {
		return false, err
	}
	for _, obj := range cached {
		if pod, ok := obj.(*corev1.Pod); ok && PodUsesClaim(pod, pvc) {
			return true, nil
		}
	}
	live, err := c.client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for i := range live.Items {
		if PodUsesClaim(&live.Items[i], pvc) {
			return true, nil
		}
	}
	return false, nil
}

// PodUsesClaim reports whether pod may have pvc mounted, as upstream decides
// for deletion: only a pod bound to a node can; a claim it names directly
// counts until the pod is gone, and a generic ephemeral volume's claim (the
// pod's own, named pod-volume) until the pod has shut down.
func PodUsesClaim(pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) bool {
	if pod.Spec.NodeName == "" || pod.Namespace != pvc.Namespace {
		return false
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name:
			return true
		case v.Ephemeral != nil && !shutDown(pod) && pod.Name+"-"+v.Name == pvc.Name && metav1.IsControlledBy(pvc, pod):
			return true
		}
	}
	return false
}

// shutDown: the kubelet is done with the pod (it asked for deletion with no
// grace left), or it was force-deleted.
func shutDown(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0
}

func deletionCandidate(pvc *corev1.PersistentVolumeClaim) bool {
	return pvc.DeletionTimestamp != nil && slices.Contains(pvc.Finalizers, defaults.PVCProtectionFinalizer)
}

// podClaimKeys lists the claims a pod's volumes name, as "namespace/name".
func podClaimKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			keys = append(keys, pod.Namespace+"/"+v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			keys = append(keys, pod.Namespace+"/"+pod.Name+"-"+v.Name)
		}
	}
	return keys, nil
}
