package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
	"github.com/skiffhq/skiff/pkg/agent/cri"
	"github.com/skiffhq/skiff/pkg/agent/netns"
	"github.com/skiffhq/skiff/pkg/images"
)

// Agent is one node's agent. Run it once.
type Agent struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	ready  chan struct{}

	// Set up by Run.
	runtime     *cri.Client
	runtimeName string // "containerd"
	runtimeVer  string // "1.6.20~ds1"
	supervisor  *containerd.Supervisor
	podCIDR     string
	dialer      netns.Dialer
	recorder    record.EventRecorder
	pods        corelisters.PodLister
	services    corelisters.ServiceLister
	backOff     *flowcontrol.Backoff
	pullBackOff *flowcontrol.Backoff
	prober      *prober
	nodeUID     atomic.Value // types.UID of the registered Node; the heartbeat renews it
	nodes       corelisters.NodeLister
	registered  *corev1.Node       // this node as registered
	ranBefore   map[types.UID]bool // pods with sandboxes when the agent started
	anchors     anchorOrder        // of clusterTrustBundle volumes

	// admitMu orders admissions and the workers they start; admitOpen is
	// set once the pods listed at start were admitted, oldest first.
	admitMu   sync.Mutex
	admitOpen bool

	// mirrorMu guards the registries tried after the mirror (see
	// SetMirrorFallbacks) and the supervisor that writes them.
	mirrorMu  sync.Mutex
	fallbacks []string
	mirrorSup *containerd.Supervisor

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
	// relist fingerprints of each pod's runtime state.
	fingerprints map[types.UID]string
}

// New prepares an agent that talks to the cluster through client.
func New(client kubernetes.Interface, opts Options) (*Agent, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Agent{
		client:       client,
		opts:         opts,
		log:          opts.Logger.With("node", opts.NodeName),
		ready:        make(chan struct{}),
		workers:      map[types.UID]*podWorker{},
		fingerprints: map[types.UID]string{},
		dialer:       netns.Dialer{Path: opts.NetNS},
		backOff:      flowcontrol.NewBackOff(opts.BackOffBase, opts.BackOffMax),
		pullBackOff:  flowcontrol.NewBackOff(opts.PullBackOffBase, opts.BackOffMax),
	}, nil
}

// NodeName is the name the agent registers.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// NodeIP is the InternalIP the node reports.
func (a *Agent) NodeIP() string { return a.opts.NodeIP }

// ResolvConf is the node's resolver configuration file: what pods with
// dnsPolicy Default get, and where the cluster DNS forwards other names.
func (a *Agent) ResolvConf() string { return a.opts.ResolvConf }

// PodCIDR is the node's pod CIDR (known once Ready).
func (a *Agent) PodCIDR() string { return a.podCIDR }

// RuntimeEndpoint is the CRI endpoint in use (known once Ready).
func (a *Agent) RuntimeEndpoint() string { return a.runtime.Endpoint }

// Ready is closed once the node is registered, its network configured and
// its pods handled.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run runs the node until ctx ends. Pods keep running after it returns
// (unless Options.RemovePodsOnExit) and a later agent adopts them.
func (a *Agent) Run(ctx context.Context) error {
	rtCtx, stopRuntime := context.WithCancel(context.WithoutCancel(ctx))
	var rtDone chan error
	defer func() {
		stopRuntime()
		if rtDone != nil {
			if err := <-rtDone; err != nil {
				a.log.Error("container runtime", "err", err)
			}
		}
	}()
	if err := a.startRuntime(ctx, rtCtx, &rtDone); err != nil {
		return err
	}
	defer a.runtime.Close()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	a.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.opts.NodeName})

	// The API server may not be up yet (`skiff agent` started first): keep
	// trying, as a kubelet does.
	var node *corev1.Node
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		var err error
		if node, err = a.register(ctx); err == nil {
			break
		}
		a.log.Error("registering the node; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return a.shutdown()
		case <-time.After(delay):
		}
	}
	a.nodeUID.Store(node.UID)
	a.registered = node
	var bg sync.WaitGroup
	defer bg.Wait()
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	bg.Add(1)
	go func() { defer bg.Done(); a.heartbeat(bgCtx) }()

	cidr, err := a.waitPodCIDR(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return a.shutdown()
		}
		return err
	}
	a.podCIDR = cidr
	if a.supervisor != nil {
		if err := WriteCNIConfig(a.cniConfDir(), a.cniIPAMDir(), cidr, a.opts.MTU); err != nil {
			return err
		}
	}
	if err := a.waitNetworkReady(ctx); err != nil {
		if a.supervisor != nil {
			return err
		}
		// Another runtime's network is its owner's business; the node
		// reports NotReady with the reason until it is fixed.
		a.log.Warn("the container runtime's network is not ready", "err", err)
	}
	// Registered before the network was configured: Ready now.
	if err := a.postNodeStatus(ctx, true); err != nil {
		a.log.Error("posting node status", "err", err)
	}

	podFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + a.opts.NodeName }))
	podInformer := podFactory.Core().V1().Pods()
	a.pods = podInformer.Lister()
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + a.opts.NodeName }))
	nodeInformer := nodeFactory.Core().V1().Nodes()
	a.nodes = nodeInformer.Lister()
	a.ranBefore = a.podsInRuntime(ctx)
	podReg, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { a.podChanged(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) { a.podRemoved(ctx, obj) },
	})
	if err != nil {
		return err
	}
	svcFactory := informers.NewSharedInformerFactory(a.client, 0)
	a.services = svcFactory.Core().V1().Services().Lister()
	_ = svcFactory.Core().V1().Services().Informer()
	a.prober = newProber(a)

	// Workers of the pods already running here start as the pod informer
	// lists; new pods are admitted once it has synced, oldest first, and
	// sandboxes of pods it does not list (deleted while no agent ran) go.
	svcFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	defer podFactory.Shutdown()
	defer nodeFactory.Shutdown()
	defer svcFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podReg.HasSynced, nodeInformer.Informer().HasSynced, svcFactory.Core().V1().Services().Informer().HasSynced) {
		return a.shutdown()
	}
	a.admitWaiting(ctx)
	if err := a.removeOrphans(ctx); err != nil {
		a.log.Error("removing sandboxes of pods that no longer exist", "err", err)
	}
	close(a.ready)
	a.log.Info("node agent ready", "podCIDR", cidr, "runtime", a.runtimeName+"://"+a.runtimeVer)

	bg.Add(2)
	go func() { defer bg.Done(); a.relistLoop(bgCtx) }()
	go func() { defer bg.Done(); a.housekeeping(bgCtx) }()
	<-ctx.Done()
	stopBG()
	return a.shutdown()
}

// shutdown stops the pod workers (and, when asked, the pods).
func (a *Agent) shutdown() error {
	a.mu.Lock()
	for _, w := range a.workers {
		w.stop()
	}
	a.mu.Unlock()
	a.wg.Wait()
	if a.prober != nil {
		a.prober.stopAll()
	}
	if !a.opts.RemovePodsOnExit || a.runtime == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return a.removeAllPods(ctx)
}

// SetMirrorFallbacks makes urls the registries the supervised containerd
// tries after the mirror's own (Options.Mirror), from its next pull on: the
// other servers' registries, as they come and go. With another runtime, or
// no mirror, it does nothing.
func (a *Agent) SetMirrorFallbacks(urls []string) error {
	a.mirrorMu.Lock()
	defer a.mirrorMu.Unlock()
	a.fallbacks = slices.Clone(urls)
	if a.mirrorSup == nil {
		return nil
	}
	return a.mirrorSup.SetMirrorFallbacks(a.fallbacks)
}

// startRuntime starts the supervised containerd (or dials the given
// endpoint) and waits until the runtime answers.
func (a *Agent) startRuntime(ctx, rtCtx context.Context, done *chan error) error {
	endpoint := a.opts.ContainerRuntimeEndpoint
	if endpoint == "" {
		a.mirrorMu.Lock()
		mirror := a.opts.Mirror
		if mirror.URL != "" && a.fallbacks != nil {
			mirror.Fallbacks = a.fallbacks
		}
		s, err := containerd.New(containerd.Options{
			DataDir:      a.opts.DataDir,
			Binary:       a.opts.ContainerdBinary,
			CNIBinDir:    a.opts.CNIBinDir,
			SandboxImage: images.PauseRef,
			NetNS:        a.opts.NetNS,
			Mirror:       mirror,
			AfterStart:   a.importImages,
			Logger:       a.opts.Logger,
		})
		a.mirrorSup = s
		a.mirrorMu.Unlock()
		if err != nil {
			return err
		}
		a.supervisor = s
		ch := make(chan error, 1)
		*done = ch
		go func() { ch <- s.Run(rtCtx) }()
		select {
		case <-s.Ready():
		case err := <-ch:
			ch <- err
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("starting containerd: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		endpoint = s.Endpoint()
	}
	c, err := cri.Dial(endpoint)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := c.Wait(wctx)
	if err != nil {
		c.Close()
		return err
	}
	a.runtime = c
	a.runtimeName, a.runtimeVer = v.RuntimeName, v.RuntimeVersion
	return nil
}

// importImages imports the pause image and Options.ImportImages into the
// supervised containerd.
func (a *Agent) importImages(ctx context.Context, s *containerd.Supervisor) error {
	dir := filepath.Join(a.opts.DataDir, "agent", "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pause := filepath.Join(dir, "pause.tar")
	if err := images.WritePauseFile(pause); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	im := images.Importer{Address: s.Paths().Socket, Snapshotter: s.Snapshotter()}
	return im.Import(ctx, append([]string{pause}, a.opts.ImportImages...)...)
}

// waitNetworkReady waits until the runtime reports its network ready (the
// CNI configuration was loaded).
func (a *Agent) waitNetworkReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last string
	for {
		st, err := a.runtime.Status(ctx, &runtimeapi.StatusRequest{})
		if err == nil {
			ok := true
			for _, c := range st.GetStatus().GetConditions() {
				if !c.Status {
					ok = false
					last = fmt.Sprintf("%s: %s %s", c.Type, c.Reason, c.Message)
				}
			}
			if ok {
				return nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container runtime not ready: %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (a *Agent) agentDir(elem ...string) string {
	return filepath.Join(append([]string{a.opts.DataDir, "agent"}, elem...)...)
}

func (a *Agent) cniConfDir() string { return CNIConfDir(a.opts.DataDir) }
func (a *Agent) cniIPAMDir() string { return CNIIPAMDir(a.opts.DataDir) }

// registeredUID is the UID of the agent's Node object, or "" before it is
// registered.
func (a *Agent) registeredUID() types.UID {
	uid, _ := a.nodeUID.Load().(types.UID)
	return uid
}
