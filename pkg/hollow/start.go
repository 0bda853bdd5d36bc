package hollow

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// StartN starts n hollow nodes named PREFIX-1 ... PREFIX-n, where PREFIX is
// opts.Name (default "hollow"), each with the rest of opts, and returns once all
// of them are registered and handling pods. opts.InternalIP is ignored. They run
// until ctx ends; Done and Err on each tell when and why one stopped.
//
// The nodes share one pod and one node informer (opts.Informers', or their own)
// instead of a watch each: a hundred kubelets' worth of watches and caches is
// what a hundred processes would pay, not what one process needs. For the same
// reason each has one worker unless opts.Workers says otherwise, and at most
// fleetCalls pod writes of all of them together are in flight at once.
func StartN(ctx context.Context, client kubernetes.Interface, n int, opts Options) ([]*Node, error) {
	prefix := opts.Name
	if prefix == "" {
		prefix = "hollow"
	}
	f := newFleet(ctx, client, opts.Informers)
	nodes := make([]*Node, n)
	for i := range nodes {
		o := opts
		o.Name = fmt.Sprintf("%s-%d", prefix, i+1)
		o.Labels = cloneLabels(opts.Labels)
		o.InternalIP = "" // each its own, from its name
		if o.Workers <= 0 {
			o.Workers = 1
		}
		nodes[i] = New(client, o)
		nodes[i].fleet = f
		go func() { _ = nodes[i].Run(ctx) }()
	}
	for _, node := range nodes {
		select {
		case <-node.Ready():
		case <-node.Done():
			if err := node.Err(); err != nil {
				return nodes, fmt.Errorf("hollow node %q: %w", node.Name(), err)
			}
			return nodes, ctx.Err()
		case <-ctx.Done():
			return nodes, ctx.Err()
		}
	}
	return nodes, nil
}

// fleet is what the nodes of StartN share: a pod informer and a node informer,
// whose events go to the node they name.
type fleet struct {
	pods, nodes cache.SharedIndexInformer
	calls       chan struct{} // a token per pod write in flight

	mu     sync.RWMutex
	byName map[string]*Node
}

// newFleet registers the fleet's handlers and starts its informers: the
// factory's when there is one (which it starts), its own otherwise.
func newFleet(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) *fleet {
	f := &fleet{byName: map[string]*Node{}, calls: make(chan struct{}, fleetCalls)}
	if factory != nil {
		f.pods = factory.Core().V1().Pods().Informer()
		f.nodes = factory.Core().V1().Nodes().Informer()
	} else {
		bound := fields.OneTermNotEqualSelector("spec.nodeName", "").String()
		f.pods = coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, 0, cache.Indexers{},
			func(o *metav1.ListOptions) { o.FieldSelector = bound })
		f.nodes = coreinformers.NewNodeInformer(client, 0, cache.Indexers{})
		_ = f.pods.SetTransform(dropManagedFields)
		_ = f.nodes.SetTransform(dropManagedFields)
	}
	_, _ = f.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.podChanged,
		UpdateFunc: func(_, obj any) { f.podChanged(obj) },
		DeleteFunc: f.podChanged,
	})
	_, _ = f.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.nodeChanged(obj, false) },
		UpdateFunc: func(_, obj any) { f.nodeChanged(obj, false) },
		DeleteFunc: func(obj any) { f.nodeChanged(obj, true) },
	})
	if factory != nil {
		factory.Start(ctx.Done())
	} else {
		go f.pods.RunWithContext(ctx)
		go f.nodes.RunWithContext(ctx)
	}
	return f
}

// fleetCalls bounds the pod writes (status updates, deletions) the nodes of a
// fleet have in flight together: enough to keep an API server busy, few enough
// that a storm of bindings does not become hundreds of concurrent requests.
const fleetCalls = 32

// call runs a pod write once the fleet has room for it.
func (f *fleet) call(ctx context.Context, write func() error) error {
	select {
	case f.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-f.calls }()
	return write()
}

// join makes n the receiver of its name's events; leave undoes it.
func (f *fleet) join(n *Node) {
	f.mu.Lock()
	f.byName[n.name] = n
	f.mu.Unlock()
}

func (f *fleet) leave(n *Node) {
	f.mu.Lock()
	if f.byName[n.name] == n {
		delete(f.byName, n.name)
	}
	f.mu.Unlock()
}

func (f *fleet) node(name string) *Node {
	if name == "" {
		return nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.byName[name]
}

// informerObject is an informer event's object, unwrapped from the tombstone
// of a delete the informer missed.
func informerObject[T any](obj any) (T, bool) {
	if t, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		obj = t.Obj
	}
	o, ok := obj.(T)
	return o, ok
}

func (f *fleet) podChanged(obj any) {
	pod, ok := informerObject[*corev1.Pod](obj)
	if !ok {
		return
	}
	if n := f.node(pod.Spec.NodeName); n != nil {
		n.enqueue(obj)
	}
}

func (f *fleet) nodeChanged(obj any, deleted bool) {
	node, ok := informerObject[*corev1.Node](obj)
	if !ok {
		return
	}
	n := f.node(node.Name)
	switch {
	case n == nil:
	case deleted:
		n.requestStatus() // registers the node again
	default:
		n.observeNode(node)
	}
}
