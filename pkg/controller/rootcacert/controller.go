package rootcacert

import (
	"context"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// The ConfigMap as upstream publishes it.
const (
	ConfigMapName         = "kube-root-ca.crt"
	DataKey               = "ca.crt"
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// ConfigMap is the kube-root-ca.crt ConfigMap publishing caPEM.
func ConfigMap(caPEM []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Annotations: map[string]string{DescriptionAnnotation: Description}},
		Data:       map[string]string{DataKey: string(caPEM)},
	}
}

// Options tune the controller.
type Options struct {
	// CA is the PEM bundle published (the cluster CA's certificate).
	CA []byte
	// Workers is how many namespaces are synced at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// Controller keeps kube-root-ca.crt in every active namespace.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	// own is the controller's own factory: its one informer lists and watches
	// kube-root-ca.crt alone, so no other ConfigMap in the cluster is cached
	// or makes work here. Run starts it.
	own        informers.SharedInformerFactory
	namespaces corelisters.NamespaceLister
	published  corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's namespace informer and handlers on factory;
// the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	own := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ConfigMapName).String()
	}))
	nsInf := factory.Core().V1().Namespaces()
	cmInf := own.Core().V1().ConfigMaps()
	c := &Controller{
		client:     client,
		opts:       opts,
		log:        opts.Logger.With("controller", "rootcacert"),
		own:        own,
		namespaces: nsInf.Lister(),
		published:  cmInf.Lister(),
		synced:     []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "rootcacert"}),
	}
	_, _ = nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueueNamespace(obj) },
		UpdateFunc: func(_, cur any) {
			// Only a namespace that is active can need the ConfigMap.
			if ns, ok := cur.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
				c.queue.Add(ns.Name)
			}
		},
	})
	_, _ = cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// An add is someone else's create racing ours: its content is checked.
		AddFunc:    func(obj any) { c.enqueueConfigMap(obj) },
		UpdateFunc: func(_, cur any) { c.enqueueConfigMap(cur) },
		DeleteFunc: func(obj any) { c.enqueueConfigMap(obj) },
	})
	return c
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// enqueueConfigMap queues the namespace of a kube-root-ca.crt event. The
// name is checked again: the field selector is the server's to honour.
func (c *Controller) enqueueConfigMap(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
		c.queue.Add(cm.Namespace)
	}
}

// Run publishes the CA until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.own.Start(ctx.Done())
	defer c.own.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("publishing the root CA failed; retrying", "namespace", key, "err", err)
	})
	return nil
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return nil // terminating: its content is on the way out
	}
	want := ConfigMap(c.opts.CA)
	cm, err := c.published.ConfigMaps(name).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = c.client.CoreV1().ConfigMaps(name).Create(ctx, want, metav1.CreateOptions{})
		switch {
		case err == nil:
			return nil
		case apierrors.IsAlreadyExists(err):
			return nil // its add event brings it here again
		case apierrors.IsNotFound(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			return nil
		default:
			return err
		}
	}
	if err != nil {
		return err
	}
	// As upstream: the data must be the bundle alone, and a description must
	// be there (in a distribution's own words, if it has reworded it).
	if maps.Equal(cm.Data, want.Data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = want.Data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	_, err = c.client.CoreV1().ConfigMaps(name).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: its delete event brings it here again
	}
	return err
}
