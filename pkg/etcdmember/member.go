package etcdmember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.uber.org/zap"
)

const (
	// DefaultClientPort and DefaultPeerPort are etcd's usual ports.
	DefaultClientPort = 2379
	DefaultPeerPort   = 2380

	// DefaultReadyTimeout is how long Start waits for a member to join its
	// cluster's quorum when Config.ReadyTimeout is zero.
	DefaultReadyTimeout = 2 * time.Minute

	// snapshotCount is how many applied entries etcd keeps in its log before
	// it snapshots; etcd's own default, written down so that it stays.
	snapshotCount = 10000
	// DefaultQuota is the database size at which etcd stops taking writes
	// until it is compacted and defragmented (see KeepSpace).
	DefaultQuota = 2 << 30
	// clusterToken seeds the cluster and member IDs of a new cluster.
	clusterToken = "skiff-etcd"
	// dialTimeout bounds how long a client waits to reach a member.
	dialTimeout = 5 * time.Second
)

// Config is one member of an etcd cluster.
type Config struct {
	// DataDir holds the member's state (etcd's --data-dir). A member
	// started on a DataDir that already holds its state rejoins its cluster
	// as it was and ignores InitialCluster and Join.
	DataDir string
	// Name is the member's name, unique in the cluster: Skiff uses the
	// server's node name.
	Name string
	// AdvertiseIP is the address the other members and servers reach this
	// member at.
	AdvertiseIP net.IP
	// ListenIP is the address the member listens on; AdvertiseIP when nil.
	// The client port also listens on 127.0.0.1, for the local server.
	ListenIP net.IP
	// ClientPort and PeerPort default to 2379 and 2380.
	ClientPort, PeerPort int
	// Certs are the member's certificates, from EnsureCerts.
	Certs Certs
	// InitialCluster is "name=https://ip:2380,..." of every member,
	// this one included. A new cluster (Join false) defaults to this member
	// alone; a joining member uses what AddLearner returned.
	InitialCluster string
	// Join starts the member into an existing cluster, which must already
	// know it (AddLearner); otherwise the member starts a new cluster.
	Join bool
	// Logger receives etcd's warnings and errors; nil discards them.
	Logger *slog.Logger

	// HeartbeatInterval and ElectionTimeout tune raft (etcd's defaults,
	// 100ms and 1s, when zero); every member of a cluster should use the
	// same. The election timeout must be at least five heartbeats.
	HeartbeatInterval, ElectionTimeout time.Duration
	// ReadyTimeout bounds how long Start waits for the member to be ready:
	// DefaultReadyTimeout when zero. A deadline on Start's context applies
	// too.
	ReadyTimeout time.Duration
	// Quota is the database size, in bytes, at which the member raises its
	// NOSPACE alarm (DefaultQuota when zero).
	Quota int64
}

func (c Config) quota() int64 {
	if c.Quota > 0 {
		return c.Quota
	}
	return DefaultQuota
}

func (c Config) withDefaults() (Config, error) {
	if c.ClientPort == 0 {
		c.ClientPort = DefaultClientPort
	}
	if c.PeerPort == 0 {
		c.PeerPort = DefaultPeerPort
	}
	if c.ListenIP == nil {
		c.ListenIP = c.AdvertiseIP
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Name == "":
		return c, errors.New("etcd member: empty name")
	case c.DataDir == "":
		return c, fmt.Errorf("etcd member %q: empty data dir", c.Name)
	case c.AdvertiseIP == nil || c.AdvertiseIP.IsUnspecified():
		return c, fmt.Errorf("etcd member %q: advertise IP %v is not an address others can reach", c.Name, c.AdvertiseIP)
	case c.Join && c.InitialCluster == "" && !c.hasState():
		return c, fmt.Errorf("etcd member %q: joining an existing cluster needs the initial cluster that AddLearner returned", c.Name)
	}
	if err := c.Certs.check(); err != nil {
		return c, fmt.Errorf("etcd member %q: %w", c.Name, err)
	}
	if c.InitialCluster == "" {
		c.InitialCluster = c.Name + "=" + c.peerURL()
	}
	return c, nil
}

// hasState reports whether DataDir holds a member already, which etcd then
// restarts as it was, whatever InitialCluster and Join say.
func (c Config) hasState() bool {
	return wal.Exist(filepath.Join(c.DataDir, "member", "wal"))
}

func (c Config) peerURL() string   { return httpsURL(c.AdvertiseIP, c.PeerPort) }
func (c Config) clientURL() string { return httpsURL(c.AdvertiseIP, c.ClientPort) }

// localClientURL is where the local server reaches the member: on
// 127.0.0.1, where it listens besides ListenIP, or on ListenIP itself when
// that is a loopback address.
func (c Config) localClientURL() string {
	if c.ListenIP.IsLoopback() {
		return httpsURL(c.ListenIP, c.ClientPort)
	}
	return httpsURL(net.IPv4(127, 0, 0, 1), c.ClientPort)
}

func httpsURL(ip net.IP, port int) string {
	return "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

func (c Config) embed(lg *zap.Logger) (*embed.Config, error) {
	ec := embed.NewConfig()
	ec.Name = c.Name
	ec.Dir = c.DataDir

	urls := func(ss ...string) ([]url.URL, error) {
		var out []url.URL
		for _, s := range ss {
			u, err := url.Parse(s)
			if err != nil {
				return nil, err
			}
			out = append(out, *u)
		}
		return out, nil
	}
	var err error
	if ec.ListenPeerUrls, err = urls(httpsURL(c.ListenIP, c.PeerPort)); err != nil {
		return nil, err
	}
	if ec.AdvertisePeerUrls, err = urls(c.peerURL()); err != nil {
		return nil, err
	}
	listenClient := []string{httpsURL(c.ListenIP, c.ClientPort)}
	// An unspecified address already covers loopback, and binding both
	// would fail.
	if !c.ListenIP.IsLoopback() && !c.ListenIP.IsUnspecified() {
		listenClient = append(listenClient, c.localClientURL())
	}
	if ec.ListenClientUrls, err = urls(listenClient...); err != nil {
		return nil, err
	}
	if ec.AdvertiseClientUrls, err = urls(c.clientURL()); err != nil {
		return nil, err
	}

	ec.ClientTLSInfo = transport.TLSInfo{
		CertFile:       c.Certs.ServerCertFile,
		KeyFile:        c.Certs.ServerKeyFile,
		TrustedCAFile:  c.Certs.CAFile,
		ClientCertAuth: true,
	}
	ec.PeerTLSInfo = transport.TLSInfo{
		CertFile:       c.Certs.PeerCertFile,
		KeyFile:        c.Certs.PeerKeyFile,
		TrustedCAFile:  c.Certs.CAFile,
		ClientCertAuth: true,
	}
	// The JSON gateway would dial the member's own gRPC port presenting the
	// serving certificate as a client certificate; nothing in Skiff uses it.
	ec.EnableGRPCGateway = false

	ec.InitialCluster = c.InitialCluster
	ec.InitialClusterToken = clusterToken
	ec.ClusterState = embed.ClusterStateFlagNew
	if c.Join {
		ec.ClusterState = embed.ClusterStateFlagExisting
	}

	ec.SnapshotCount = snapshotCount
	ec.QuotaBackendBytes = c.quota()
	// Retention "0" turns auto compaction off: the Skiff server compacts.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "0"
	if c.HeartbeatInterval > 0 {
		ec.TickMs = uint(c.HeartbeatInterval.Milliseconds())
	}
	if c.ElectionTimeout > 0 {
		ec.ElectionMs = uint(c.ElectionTimeout.Milliseconds())
	}

	ec.Logger = "zap"
	ec.LogLevel = "warn"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return ec, nil
}

// Member is a running etcd member.
type Member struct {
	cfg    Config
	etcd   *embed.Etcd
	client *clientv3.Client
	zap    *zap.Logger

	stopping  atomic.Bool
	stopOnce  sync.Once
	errc      chan error
	watchDone chan struct{}
}

// Start starts the member cfg describes and returns once it is ready to
// serve: it has applied what its cluster committed before it started, which
// needs a quorum of the cluster's members to be running. A member started
// with Join runs as a learner of the cluster that added it (AddLearner) until
// a voting member promotes it (PromoteWhenReady, PromoteSelf); a learner
// serves no reads or writes of its own, so the local server waits for the
// promotion before it uses Client.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "etcd", "member", cfg.Name)
	lg := zapLogger(log)
	ec, err := cfg.embed(lg)
	if err != nil {
		return nil, fmt.Errorf("etcd member %q: %w", cfg.Name, err)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %q in %q: %w", cfg.Name, cfg.DataDir, err)
	}
	if err := waitReady(ctx, e, cfg); err != nil {
		// Close alone waits for client servers that only start once the
		// member is ready (etcd-io/etcd#9533); stopping the server first
		// lets them give up.
		e.Server.HardStop()
		e.Close()
		return nil, err
	}
	cli, err := newClient(cfg.Certs, []string{cfg.localClientURL()}, lg)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("etcd member %q: %w", cfg.Name, err)
	}
	m := &Member{
		cfg:       cfg,
		etcd:      e,
		client:    cli,
		zap:       lg,
		errc:      make(chan error, 1),
		watchDone: make(chan struct{}),
	}
	go m.watch()
	return m, nil
}

func waitReady(ctx context.Context, e *embed.Etcd, cfg Config) error {
	timer := time.NewTimer(cfg.ReadyTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd member %q failed while starting: %v", cfg.Name, err)
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd member %q stopped while starting; if it was removed from its cluster, move its data dir %q aside before it joins again", cfg.Name, cfg.DataDir)
	case <-ctx.Done():
		return fmt.Errorf("etcd member %q not ready: %w; %s", cfg.Name, ctx.Err(), notReadyHint(e, cfg))
	case <-timer.C:
		return fmt.Errorf("etcd member %q not ready after %v; %s", cfg.Name, cfg.ReadyTimeout, notReadyHint(e, cfg))
	}
}

// notReadyHint says what a member that does not become ready waits for.
func notReadyHint(e *embed.Etcd, cfg Config) string {
	var peers []string
	for _, m := range e.Server.Cluster().Members() {
		if m.ID == e.Server.MemberID() {
			continue
		}
		name := m.Name
		if name == "" {
			name = m.ID.String()
		}
		peers = append(peers, name+"="+strings.Join(m.PeerURLs, ","))
	}
	if len(peers) == 0 {
		return fmt.Sprintf("check that its data dir %q is not damaged and that it can listen on %s", cfg.DataDir, cfg.peerURL())
	}
	return fmt.Sprintf("it needs a quorum of its cluster's members: check that the servers of %s are running, that their peer ports accept connections from %s, and that their certificates come from this cluster's CA",
		strings.Join(peers, " "), cfg.AdvertiseIP)
}

func newClient(certs Certs, endpoints []string, lg *zap.Logger) (*clientv3.Client, error) {
	tlsConfig, err := certs.clientTLS()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsConfig,
		DialTimeout: dialTimeout,
		Logger:      lg.Named("client"),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}

// watch turns the embedded server's failures into one error on errc, and
// closes errc once the member has stopped.
func (m *Member) watch() {
	defer close(m.watchDone)
	defer close(m.errc)
	for {
		select {
		case err, ok := <-m.etcd.Err():
			if !ok {
				return
			}
			if err == nil || m.stopping.Load() {
				continue
			}
			m.errc <- fmt.Errorf("etcd member %q: %w", m.cfg.Name, err)
			return
		case <-m.etcd.Server.StopNotify():
			if !m.stopping.Load() {
				m.errc <- fmt.Errorf("etcd member %q stopped on its own; if it was removed from its cluster, move its data dir %q aside before it joins again", m.cfg.Name, m.cfg.DataDir)
			}
			return
		}
	}
}

// Client is a client of this member alone, over its loopback client port.
// Stop closes it.
func (m *Member) Client() *clientv3.Client { return m.client }

// ID is the member's ID in its cluster.
func (m *Member) ID() uint64 { return uint64(m.etcd.Server.MemberID()) }

// ClientURL is the client URL the member advertises to other servers.
func (m *Member) ClientURL() string { return m.cfg.clientURL() }

// PeerURL is the peer URL the member advertises to other members.
func (m *Member) PeerURL() string { return m.cfg.peerURL() }

// Err receives at most one error: that the member stopped serving without
// Stop (a listener failed, or the cluster removed it). It is closed after
// that error, or once the member has stopped without one; parts of etcd
// may still be winding down then, so Stop must be called either way.
func (m *Member) Err() <-chan error { return m.errc }

// Stop closes Client and stops the member; a leader first hands its
// leadership to another member. It is safe to call more than once.
func (m *Member) Stop() {
	m.stopOnce.Do(func() {
		m.stopping.Store(true)
		m.client.Close()
		m.etcd.Close()
		<-m.watchDone
	})
}
