package podgc

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Defaults of Options, upstream's.
const (
	DefaultCheckPeriod            = 20 * time.Second
	DefaultQuarantine             = 40 * time.Second
	DefaultTerminatedPodThreshold = 12500
	DefaultWorkers                = 8
)

// Options tune the collector.
type Options struct {
	// TerminatedPodThreshold is how many terminated pods may remain before the
	// oldest are deleted (default 12,500); negative turns that collection off.
	TerminatedPodThreshold int
	// CheckPeriod is how often the pods are looked over (default 20s).
	CheckPeriod time.Duration
	// Quarantine is how long a node must be missing from the cache before a
	// GET is trusted to say it is gone (default 40s).
	Quarantine time.Duration
	// Workers is how many deletions one pass has in flight (default 8).
	Workers int
	// Clock supplies the time and the pass ticker (default the real clock).
	Clock clock.WithTicker
	// Logger receives the deletions and errors (default: discarded).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.TerminatedPodThreshold == 0 {
		o.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if o.CheckPeriod <= 0 {
		o.CheckPeriod = DefaultCheckPeriod
	}
	if o.Quarantine <= 0 {
		o.Quarantine = DefaultQuarantine
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Controller is the pod garbage collector.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced

	// missing holds, for each node name a pod is bound to but the cache does
	// not hold, when a pass first saw it missing. Only the pass goroutine
	// touches it.
	missing map[string]time.Time
}

// New registers the pod and node informers on factory; the caller starts the
// factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts = opts.withDefaults()
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	return &Controller{
		client:  client,
		opts:    opts,
		log:     opts.Logger.With("controller", "podgc"),
		clock:   opts.Clock,
		pods:    podInf.Lister(),
		nodes:   nodeInf.Lister(),
		synced:  []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		missing: map[string]time.Time{},
	}
}

// Run collects pods every CheckPeriod, starting once the caches are synced,
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	c.pass(ctx)
	tick := c.clock.NewTicker(c.opts.CheckPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
			c.pass(ctx)
		}
	}
}

// pass is one look over every cached pod: it sorts them into the four kinds
// of garbage and deletes them, each pod at most once.
func (c *Controller) pass(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		c.log.Error("listing pods", "err", err)
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("listing nodes", "err", err)
		return
	}
	g := sortGarbage(pods, nodes)
	d := c.newDeleter(ctx)
	if c.opts.TerminatedPodThreshold > 0 {
		for _, pod := range oldestTerminated(g.terminated, c.opts.TerminatedPodThreshold) {
			d.delete(pod, reasonTerminated, nil)
		}
	}
	for _, pod := range g.outOfService {
		d.delete(pod, reasonOutOfService, nil)
	}
	for _, pod := range c.orphans(ctx, g) {
		d.delete(pod, reasonOrphaned, orphanCondition)
	}
	for _, pod := range g.unscheduledTerminating {
		d.delete(pod, reasonUnscheduled, nil)
	}
	d.wait()
}
