package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listerspolicyv1 "k8s.io/client-go/listers/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Options tune a Scheduler. The zero value is upstream's default scheduler.
type Options struct {
	// SchedulerName is the spec.schedulerName of the pods this scheduler places;
	// pods naming another scheduler are left alone. Default "default-scheduler".
	SchedulerName string
	// Binders is how many pods/binding (and pods/status) requests may be in
	// flight at once. The scheduling cycle itself is one goroutine, as upstream;
	// binding is what takes time. Default 32.
	Binders int
	// InitialBackoff and MaxBackoff bound how long a pod that failed waits before
	// it is tried again (doubling per attempt). Defaults 1s and 10s, as upstream.
	InitialBackoff, MaxBackoff time.Duration
	// Logger receives debug logs; default discards.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.SchedulerName == "" {
		o.SchedulerName = corev1.DefaultSchedulerName
	}
	if o.Binders <= 0 {
		o.Binders = 32
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// eventWriters is how many events may be in flight at once. Fewer than the
// binders: bindings come first when the API server is the bottleneck.
const eventWriters = 4

// Scheduler assigns pending pods to nodes. Build it with New, start the informer
// factory, then call Run.
type Scheduler struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	pods     listerscorev1.PodLister
	pdbs     listerspolicyv1.PodDisruptionBudgetLister // what preemption should not break
	synced   []toolscache.InformerSynced
	cache    *cache
	queue    *queue
	tasks    chan func(context.Context)
	recorder record.EventRecorder
	events   record.EventBroadcaster

	// Reused by the single scheduling goroutine.
	cands []candidate
}

// New registers the scheduler's handlers on the factory's pod and node
// informers. It starts nothing: the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Scheduler, error) {
	opts.setDefaults()
	broadcaster := record.NewBroadcaster()
	s := &Scheduler{
		client:   client,
		opts:     opts,
		log:      opts.Logger,
		pods:     factory.Core().V1().Pods().Lister(),
		pdbs:     factory.Policy().V1().PodDisruptionBudgets().Lister(),
		cache:    newCache(),
		queue:    newQueue(opts.InitialBackoff, opts.MaxBackoff),
		tasks:    make(chan func(context.Context), 4096),
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: opts.SchedulerName}),
	}
	podReg, err := factory.Core().V1().Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPodAdd,
		UpdateFunc: s.onPodUpdate,
		DeleteFunc: s.onPodDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("registering the pod handler: %w", err)
	}
	nodeReg, err := factory.Core().V1().Nodes().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNodeAdd,
		UpdateFunc: s.onNodeUpdate,
		DeleteFunc: s.onNodeDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("registering the node handler: %w", err)
	}
	pdbs := factory.Policy().V1().PodDisruptionBudgets().Informer()
	s.synced = []toolscache.InformerSynced{podReg.HasSynced, nodeReg.HasSynced, pdbs.HasSynced}
	return s, nil
}

// Run schedules until ctx ends. It waits for the informers (started by the
// caller) to deliver every pod and node first, so that the first decisions see
// the whole cluster.
func (s *Scheduler) Run(ctx context.Context) error {
	stopEvents := s.startEvents()
	defer stopEvents()

	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil
	}
	s.log.Debug("scheduler caches synced", "scheduler", s.opts.SchedulerName)

	var wg sync.WaitGroup
	for range s.opts.Binders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case task := <-s.tasks:
					task(ctx)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				s.queue.close()
				return
			case <-t.C:
				s.queue.flush()
			}
		}
	}()
	for s.scheduleOne(ctx) {
	}
	wg.Wait()
	return nil
}

// startEvents sends recorded events to the API as core/v1 Events.
func (s *Scheduler) startEvents() func() {
	sink := newAsyncSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")}, eventWriters)
	w := s.events.StartRecordingToSink(sink)
	return func() {
		w.Stop()
		s.events.Shutdown()
		sink.close()
	}
}

// submit hands work to the binders; it blocks when they are far behind, which
// slows the scheduling cycle down to what the API server takes.
func (s *Scheduler) submit(ctx context.Context, task func(context.Context)) {
	select {
	case s.tasks <- task:
	case <-ctx.Done():
	}
}
