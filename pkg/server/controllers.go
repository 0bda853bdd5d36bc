package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/controller/clusterdns"
	"github.com/skiffhq/skiff/pkg/controller/clusterroleaggregation"
	"github.com/skiffhq/skiff/pkg/controller/cronjob"
	"github.com/skiffhq/skiff/pkg/controller/csrcleaner"
	"github.com/skiffhq/skiff/pkg/controller/csrsigning"
	"github.com/skiffhq/skiff/pkg/controller/daemonset"
	"github.com/skiffhq/skiff/pkg/controller/deployment"
	"github.com/skiffhq/skiff/pkg/controller/disruption"
	"github.com/skiffhq/skiff/pkg/controller/endpoints"
	"github.com/skiffhq/skiff/pkg/controller/endpointslice"
	"github.com/skiffhq/skiff/pkg/controller/endpointslicemirroring"
	"github.com/skiffhq/skiff/pkg/controller/garbagecollector"
	"github.com/skiffhq/skiff/pkg/controller/ipaddress"
	"github.com/skiffhq/skiff/pkg/controller/job"
	"github.com/skiffhq/skiff/pkg/controller/namespace"
	"github.com/skiffhq/skiff/pkg/controller/nodeipam"
	"github.com/skiffhq/skiff/pkg/controller/nodelifecycle"
	"github.com/skiffhq/skiff/pkg/controller/podgc"
	"github.com/skiffhq/skiff/pkg/controller/pvcprotection"
	"github.com/skiffhq/skiff/pkg/controller/pvprotection"
	"github.com/skiffhq/skiff/pkg/controller/replication"
	"github.com/skiffhq/skiff/pkg/controller/rootcacert"
	"github.com/skiffhq/skiff/pkg/controller/serviceaccount"
	"github.com/skiffhq/skiff/pkg/controller/serviceaccounttoken"
	"github.com/skiffhq/skiff/pkg/controller/servicelb"
	"github.com/skiffhq/skiff/pkg/controller/statefulset"
	"github.com/skiffhq/skiff/pkg/controller/ttlafterfinished"
	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/scheduler"
	streamserver "github.com/skiffhq/skiff/pkg/streaming/server"
)

// runnable is what every control loop is.
type runnable interface {
	Run(ctx context.Context) error
}

// runControllers builds every control loop and the scheduler on one shared
// informer factory over the loopback client, then runs them until ctx ends.
// ca is the cluster CA: its bundle is published in every namespace, and it
// signs the certificates approved certificate signing requests ask of
// Kubernetes' signers. tokens signs the legacy tokens of service-account
// token Secrets.
func runControllers(ctx context.Context, cfg Config, rc *rest.Config, ca *pki.CA, tokens serviceaccounttoken.Issuer, log *slog.Logger) error {
	rootCA := ca.CertPEM()
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	_, clusterNet, _ := net.ParseCIDR(cfg.ClusterCIDR)
	var pool *net.IPNet
	if cfg.LBPool != "" {
		if _, pool, err = net.ParseCIDR(cfg.LBPool); err != nil {
			return fmt.Errorf("--lb-pool %q: %w", cfg.LBPool, err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	named := func(name string) *slog.Logger { return log.With("controller", name) }

	gc, err := garbagecollector.New(dyn, factory, garbagecollector.Options{Workers: 8, Logger: named("garbagecollector")})
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}
	// Twice the default binders: in a storm over the loopback client, 32 bindings
	// in flight fall behind the replication controller's creates.
	sched, err := scheduler.New(client, factory, scheduler.Options{Binders: 64, Logger: named("scheduler")})
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	loops := []runnable{
		replication.New(client, factory, replication.Options{Workers: 16, Logger: named("replication")}),
		replication.NewReplicaSets(client, factory, replication.Options{Workers: 16, Logger: named("replicaset")}),
		deployment.New(client, factory, deployment.Options{Workers: 8, Logger: named("deployment")}),
		job.New(client, factory, job.Options{Workers: 8, Logger: named("job")}),
		disruption.New(client, factory, disruption.Options{Logger: named("disruption")}),
		daemonset.New(client, factory, daemonset.Options{Workers: 4, Logger: named("daemonset")}),
		statefulset.New(client, factory, statefulset.Options{Workers: 4, Logger: named("statefulset")}),
		gc,
		namespace.New(client, dyn, factory, namespace.Options{Logger: named("namespace")}),
		serviceaccount.New(client, factory, serviceaccount.Options{Logger: named("serviceaccount")}),
		rootcacert.New(client, factory, rootcacert.Options{CA: rootCA, Logger: named("rootcacert")}),
		serviceaccounttoken.New(client, factory, serviceaccounttoken.Options{Issuer: tokens, CA: rootCA, Logger: named("serviceaccounttoken")}),
		endpoints.New(client, factory, endpoints.Options{Workers: 8, Logger: named("endpoints")}),
		endpointslice.New(client, factory, endpointslice.Options{Workers: 8, Logger: named("endpointslice")}),
		endpointslicemirroring.New(client, factory, endpointslicemirroring.Options{Logger: named("endpointslicemirroring")}),
		clusterdns.New(client, factory, clusterdns.Options{Logger: named("clusterdns")}),
		clusterroleaggregation.New(client, factory, clusterroleaggregation.Options{Logger: named("clusterroleaggregation")}),
		ipaddress.New(client, factory, ipaddress.Options{Logger: named("ipaddress")}),
		servicelb.New(client, factory, servicelb.Options{Pool: pool, Logger: named("servicelb")}),
		nodeipam.New(client, factory, nodeipam.Options{ClusterCIDR: clusterNet, Logger: named("nodeipam")}),
		nodelifecycle.New(client, factory, nodelifecycle.Options{GracePeriod: cfg.NodeMonitorGracePeriod, Logger: named("nodelifecycle")}),
		podgc.New(client, factory, podgc.Options{Quarantine: cfg.PodGCQuarantine, CheckPeriod: cfg.PodGCQuarantine / 2, Logger: named("podgc")}),
		cronjob.New(client, factory, cronjob.Options{Logger: named("cronjob")}),
		ttlafterfinished.New(client, factory, ttlafterfinished.Options{Logger: named("ttlafterfinished")}),
		pvcprotection.New(client, factory, pvcprotection.Options{Logger: named("pvcprotection")}),
		pvprotection.New(client, factory, pvprotection.Options{Logger: named("pvprotection")}),
		csrsigning.New(client, factory, csrsigning.Options{CA: ca, ReservedNames: []string{streamserver.APIServerUser}, Logger: named("csrsigning")}),
		csrcleaner.New(client, factory, csrcleaner.Options{Logger: named("csrcleaner")}),
		sched,
	}
	factory.Start(ctx.Done())
	g, ctx := errgroup.WithContext(ctx)
	for _, l := range loops {
		l := l
		g.Go(func() error { return l.Run(ctx) })
	}
	if cfg.HollowNodes > 0 {
		nodes, err := hollow.StartN(ctx, client, cfg.HollowNodes, hollow.Options{Name: hollowPrefix, Informers: factory, Logger: named("hollow")})
		if err != nil {
			return fmt.Errorf("hollow nodes: %w", err)
		}
		log.Info("hollow nodes started", "count", len(nodes))
	}
	return g.Wait()
}
