package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/etcdmember"
	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/bolt"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
)

// A server with --cluster-init keeps the cluster's state in an etcd member it
// runs itself; servers that join it (--server, with the server token) run a
// member each, first as a learner, then voting once it has caught up. Three
// servers are a three-member etcd: the cluster survives the loss of one.
// The members' certificates come from a CA of their own (etcdCADir).

// etcdDir is where this server's member keeps its data.
func etcdDir(serverDir string) string { return filepath.Join(serverDir, "db", "etcd") }

// etcdCertDir holds its certificates.
func etcdCertDir(serverDir string) string { return filepath.Join(serverDir, "tls", "etcd") }

// boltFile is the embedded default datastore.
func boltFile(serverDir string) string { return filepath.Join(serverDir, "db", "state.db") }

// SnapshotDir is where a server keeps its etcd snapshots (skiff etcd-snapshot).
func SnapshotDir(dataDir string) string { return filepath.Join(dataDir, "server", "db", "snapshots") }

// usesEmbeddedEtcd reports whether this server runs an etcd member: asked to
// (--cluster-init, --server), or one ran here before.
func usesEmbeddedEtcd(cfg Config, serverDir string) bool {
	if cfg.ClusterInit || cfg.JoinServer != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(etcdDir(serverDir), "member"))
	return err == nil
}

// embedded is this server's running member and the storage on it.
type embedded struct {
	member *etcdmember.Member
	store  *etcd.Backend
	stop   func()
}

// startEmbeddedEtcd starts this server's member, joining the cluster of
// cfg.JoinServer the first time, and opens the storage on it. A data dir
// that held the embedded bolt file moves its state into etcd once (the
// migration --cluster-init does).
func startEmbeddedEtcd(ctx context.Context, cfg Config, serverDir string, log *slog.Logger) (*embedded, error) {
	ip := net.ParseIP(cfg.EtcdAdvertiseIP)
	if ip == nil {
		ip = net.ParseIP(joinHost(cfg))
	}
	if ip == nil {
		return nil, errors.New("an etcd member needs an address the other servers reach: pass --node-ip")
	}
	clientPort, peerPort := cfg.EtcdClientPort, cfg.EtcdPeerPort
	if clientPort == 0 {
		clientPort = etcdmember.DefaultClientPort
	}
	if peerPort == 0 {
		peerPort = etcdmember.DefaultPeerPort
	}
	dir := etcdDir(serverDir)
	_, statErr := os.Stat(filepath.Join(dir, "member"))
	fresh := statErr != nil
	var initial string
	joining := cfg.JoinServer != "" && fresh
	if joining {
		if cfg.Token == "" {
			return nil, errors.New("--server needs --token: the server token of a server of the cluster (its DATA_DIR/server/server-token)")
		}
		token, err := join.ParseToken(cfg.Token)
		if err != nil {
			return nil, fmt.Errorf("--token: %w", err)
		}
		peerURL := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(peerPort))
		log.Info("joining the cluster's etcd", "server", cfg.JoinServer, "member", cfg.ServerName, "peer", peerURL)
		var creds *join.ServerCredentials
		err = retryJoin(ctx, cfg.JoinServer, func(msg string) { log.Info(msg) }, func() (err error) {
			creds, err = join.JoinServer(ctx, cfg.JoinServer, token, join.ServerRequest{Name: cfg.ServerName, PeerURL: peerURL})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("joining the server at %s: %w", cfg.JoinServer, err)
		}
		// A server that joins takes the cluster's state: what it kept
		// before is never moved in (see migrateBolt below).
		if err := setAside(boltFile(serverDir), ".before-join", log); err != nil {
			return nil, err
		}
		if err := writeSharedFiles(serverDir, creds.Files, slices.Concat(sharedFiles, etcdCAFiles)); err != nil {
			return nil, err
		}
		initial = creds.InitialCluster
	}
	ca, err := pki.EnsureCA(filepath.Join(serverDir, etcdCADir))
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	// A member checks that a peer's certificate names the address it
	// connects from: every address of this host.
	certs, err := etcdmember.EnsureCerts(ca, etcdCertDir(serverDir), cfg.ServerName, hostIPs(ip))
	if err != nil {
		return nil, fmt.Errorf("etcd certificates: %w", err)
	}
	if fresh {
		log.Info("starting this server's etcd member", "dir", dir, "join", joining)
	}
	member, err := etcdmember.Start(ctx, etcdmember.Config{
		DataDir: dir, Name: cfg.ServerName, AdvertiseIP: ip, ListenIP: ip,
		ClientPort: clientPort, PeerPort: peerPort, Certs: certs,
		InitialCluster: initial, Join: joining, Logger: log.With("component", "etcd"),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd member: %w", err)
	}
	if err := member.PromoteSelf(ctx); err != nil {
		member.Stop()
		return nil, fmt.Errorf("etcd member %s becoming a voting member: %w", cfg.ServerName, err)
	}
	prefix := cfg.Datastore.Prefix
	if prefix == "" {
		prefix = etcd.DefaultPrefix
	}
	store, err := etcd.New(member.Client(), prefix)
	if err != nil {
		member.Stop()
		return nil, err
	}
	e := &embedded{member: member, store: store}
	// Whenever the bolt file is still there (a joining server has set its
	// own aside): a move cut short goes on at the next start.
	if !joining {
		if err := migrateBolt(ctx, boltFile(serverDir), store, log); err != nil {
			store.Close()
			member.Stop()
			return nil, err
		}
	}
	bctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { compactEvery(bctx, store, datastoreCompaction, log) })
	wg.Go(func() { member.KeepSpace(bctx, etcdmember.DefaultSpaceCheck, log) })
	if cfg.EtcdSnapshotInterval > 0 {
		s := &etcdmember.Scheduler{Client: member.Client(), Dir: SnapshotDir(cfg.DataDir), Name: etcdmember.DefaultScheduledName + "-" + cfg.ServerName,
			Every: cfg.EtcdSnapshotInterval, Keep: cfg.EtcdSnapshotRetention, Logger: log}
		wg.Go(func() { _ = s.Run(bctx) })
	}
	e.stop = func() { cancel(); wg.Wait(); store.Close(); member.Stop() }
	return e, nil
}

// addServer admits a joining server: its member joins as a learner, and it
// gets the files that make it a server of this cluster.
func (e *embedded) addServer(serverDir string) join.AddServer {
	return func(ctx context.Context, req join.ServerRequest) (*join.ServerCredentials, error) {
		initial, err := etcdmember.AddLearner(ctx, e.member.Client(), req.Name, req.PeerURL)
		if err != nil {
			err = fmt.Errorf("adding etcd member %s: %w", req.Name, err)
			if errors.Is(err, rpctypes.ErrTooManyLearners) || errors.Is(err, rpctypes.ErrUnhealthy) {
				// Another server is still joining, or the cluster has yet
				// to settle: this one may join in a moment.
				return nil, join.Unavailable(err, 5*time.Second)
			}
			return nil, err
		}
		files, err := readSharedFiles(serverDir, slices.Concat(sharedFiles, etcdCAFiles))
		if err != nil {
			return nil, err
		}
		return &join.ServerCredentials{InitialCluster: initial, Files: files}, nil
	}
}

// setAside renames the file at path, if there is one, to path+suffix.
func setAside(path, suffix string, log *slog.Logger) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	if err := os.Rename(path, path+suffix); err != nil {
		return fmt.Errorf("setting %s aside: %w", path, err)
	}
	log.Info("set the embedded database aside: this server takes the cluster's state", "file", path+suffix)
	return nil
}

// migrateBolt moves what the embedded bolt file at path holds into store
// (the new revisions are etcd's: clients list again), then sets the file
// aside, so the move happens once.
func migrateBolt(ctx context.Context, path string, store storage.Backend, log *slog.Logger) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	src, err := bolt.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s to move it into etcd: %w", path, err)
	}
	kvs, _, err := src.List(ctx, "/")
	src.Close()
	if err != nil {
		return fmt.Errorf("reading %s to move it into etcd: %w", path, err)
	}
	log.Info("moving the cluster's state from the embedded database into etcd", "keys", len(kvs))
	start := time.Now()
	work := make(chan storage.KeyValue)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for kv := range work {
				if _, err := store.Create(ctx, kv.Key, kv.Value); err != nil && !errors.Is(err, storage.ErrKeyExists) {
					select {
					case errc <- fmt.Errorf("moving %s into etcd: %w", kv.Key, err):
					default:
					}
				}
			}
		})
	}
	for _, kv := range kvs {
		work <- kv
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return err
	}
	log.Info("moved into etcd", "keys", len(kvs), "took", time.Since(start).Round(time.Millisecond), "old file", path+".migrated")
	return nil
}

// hostIPs is ip and every other address of this host (but link-local ones),
// loopback first.
func hostIPs(ip net.IP) []net.IP {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), ip}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() && !n.IP.IsLoopback() && !n.IP.Equal(ip) {
			ips = append(ips, n.IP)
		}
	}
	return ips
}

// removeDeletedServers takes the etcd member of a server out of the cluster
// when its Node is deleted (kubectl delete node SERVER), so that the cluster's
// quorum no longer counts it. Every server with a member watches; removing a
// member already gone is no error. A server never removes its own.
func (e *embedded) removeDeletedServers(ctx context.Context, client kubernetes.Interface, self string, log *slog.Logger) {
	factory := informers.NewSharedInformerFactory(client, 0)
	removed := make(chan string, 16)
	_, _ = factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok && n.Name != self {
				select {
				case removed <- n.Name:
				default:
				}
			}
		},
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-removed:
			members, err := etcdmember.Members(ctx, e.member.Client())
			if err != nil {
				log.Warn("listing etcd members after a node was deleted", "node", name, "err", err)
				continue
			}
			for _, m := range members {
				if m.Name != name {
					continue
				}
				if err := etcdmember.Remove(ctx, e.member.Client(), name); err != nil && ctx.Err() == nil {
					log.Warn("removing the etcd member of a deleted server", "member", name, "err", err)
				} else if err == nil {
					log.Info("removed the etcd member of a deleted server", "member", name)
				}
			}
		}
	}
}
