package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// DefaultClusterCIDR is --cluster-cidr's default.
const DefaultClusterCIDR = "10.42.0.0/16"

// Options configure the controller.
type Options struct {
	// ClusterCIDR is the range pod CIDRs are cut from (default 10.42.0.0/16).
	ClusterCIDR *net.IPNet
	// NodeMaskSize is the prefix length of each node's podCIDR (default 24).
	NodeMaskSize int
	// Workers is how many nodes are handled at once (default 2).
	Workers int
	// Logger receives errors (default discard).
	Logger *slog.Logger
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	opts   Options
	log    *slog.Logger

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder

	mu       sync.Mutex
	set      *cidrSet
	setErr   error
	assigned map[string]*net.IPNet // node name -> the subnet it holds or is being given
}

// New registers the controller's informers on factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.ClusterCIDR == nil {
		_, opts.ClusterCIDR, _ = net.ParseCIDR(DefaultClusterCIDR)
	}
	if opts.NodeMaskSize == 0 {
		opts.NodeMaskSize = 24
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"}),
		opts:        opts,
		log:         opts.Logger.With("controller", "nodeipam"),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "cidrAllocator"}),
		assigned:    map[string]*net.IPNet{},
	}
	c.set, c.setErr = newCIDRSet(opts.ClusterCIDR, opts.NodeMaskSize)

	informer := factory.Core().V1().Nodes()
	c.nodes = informer.Lister()
	c.synced = informer.Informer().HasSynced
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeChanged(obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { c.nodeChanged(obj.(*corev1.Node)) },
		DeleteFunc: c.nodeDeleted,
	})
	return c
}

// Run assigns pod CIDRs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.setErr != nil {
		return fmt.Errorf("node IPAM: %w", c.setErr)
	}
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	// Every subnet a node holds is taken before any is handed out, whatever
	// order the informer's notifications arrive in.
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, node := range nodes {
		c.occupy(node)
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Warn("assigning pod CIDR", "node", key, "err", err)
	})
	return nil
}

func (c *Controller) nodeChanged(node *corev1.Node) {
	if c.occupy(node) {
		return
	}
	c.queue.Add(node.Name)
}

// occupy records the subnet node holds; it reports whether the node has one.
func (c *Controller) occupy(node *corev1.Node) bool {
	cidr := podCIDR(node)
	if cidr == "" {
		return false
	}
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return true // not ours to fix
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		return true
	}
	if prev := c.assigned[node.Name]; prev != nil && prev.String() != subnet.String() {
		// The node got another subnet than the one we meant for it.
		c.set.release(prev)
	}
	c.set.occupy(subnet)
	c.assigned[node.Name] = subnet
	return true
}

func (c *Controller) nodeDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		return
	}
	if subnet := c.assigned[node.Name]; subnet != nil {
		c.set.release(subnet)
		delete(c.assigned, node.Name)
	} else if _, subnet, err := net.ParseCIDR(podCIDR(node)); err == nil {
		c.set.release(subnet)
	}
}

func podCIDR(node *corev1.Node) string {
	if len(node.Spec.PodCIDRs) > 0 {
		return node.Spec.PodCIDRs[0]
	}
	return node.Spec.PodCIDR
}

// sync gives a node without a podCIDR the next free subnet.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.occupy(node) {
		return nil
	}
	c.mu.Lock()
	subnet := c.assigned[name]
	if subnet == nil {
		subnet, err = c.set.allocate()
		if err != nil {
			c.mu.Unlock()
			c.recordStatus(node, "CIDRNotAvailable")
			return err
		}
		c.assigned[name] = subnet
	}
	c.mu.Unlock()

	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": node.UID},
		"spec":     map[string]any{"podCIDR": subnet.String(), "podCIDRs": []string{subnet.String()}},
	})
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err):
		// Gone, replaced by another node of the same name, or given a podCIDR
		// by someone else meanwhile: take the subnet back and look again.
		c.mu.Lock()
		if c.assigned[name] == subnet {
			c.set.release(subnet)
			delete(c.assigned, name)
		}
		c.mu.Unlock()
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	default:
		c.recordStatus(node, "CIDRAssignmentFailed")
		return fmt.Errorf("setting podCIDR %s on node %q: %w", subnet, name, err)
	}
}

// recordStatus records an event the way upstream's node controllers report a
// node's changed status.
func (c *Controller) recordStatus(node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
