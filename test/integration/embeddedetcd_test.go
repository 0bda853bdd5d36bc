package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/etcdmember"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/server"
	"github.com/skiffhq/skiff/test/harness"
)

// TestServersOnEmbeddedEtcd: a server started with --cluster-init runs an
// etcd member; two more join it with its server token (--server) and run a
// member each, so the three servers are a three-member etcd. One stops: the
// other two go on serving reads and writes, the control loops move to one of
// them; it comes back and finds what was written meanwhile.
func TestServersOnEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd members")
	}
	election := server.LeaderElection{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}
	type srv struct {
		opts harness.Options
		c    *harness.Cluster
	}
	servers := make([]*srv, 3)
	for i := range servers {
		servers[i] = &srv{opts: harness.Options{
			DataDir: t.TempDir(), ServerName: fmt.Sprintf("server-%d", i+1), AdvertiseIP: fmt.Sprintf("192.0.2.%d", i+1),
			EtcdClientPort: harness.FreePort(t), EtcdPeerPort: harness.FreePort(t), LeaderElection: election,
		}}
	}
	servers[0].opts.ClusterInit = true
	servers[0].c = harness.StartCluster(t, servers[0].opts)
	token, err := os.ReadFile(filepath.Join(servers[0].c.DataDir, "server", "server-token"))
	if err != nil {
		t.Fatal(err)
	}
	// The agents' token does not make a server.
	agentToken, _ := os.ReadFile(filepath.Join(servers[0].c.DataDir, "server", "token"))
	refused := servers[1].opts
	refused.JoinServer, refused.Token, refused.DataDir = servers[0].c.Config.Host, string(agentToken), t.TempDir()
	if _, err := harness.TryStartCluster(t, refused); err == nil {
		t.Fatal("a server joined with the agents' token")
	} else if !strings.Contains(err.Error(), "server token") {
		t.Errorf("joining with the agents' token: %v", err)
	}
	for _, s := range servers[1:] {
		s.opts.JoinServer, s.opts.Token = servers[0].c.Config.Host, string(token)
		s.c = harness.StartCluster(t, s.opts)
	}
	ctx := context.Background()
	members := etcdMembers(t, servers[0].c.DataDir, "server-1", servers[0].opts.EtcdClientPort)
	if len(members) != 3 {
		t.Fatalf("etcd members %v, want three voting", members)
	}
	// etcd trusts its own CA alone: a node's certificate, which the cluster
	// CA signs, does not open it.
	clusterCA, err := pki.EnsureCA(filepath.Join(servers[0].c.DataDir, "server", "tls"))
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, nodeKey, err := clusterCA.SignClient("system:node:worker", []string{"system:nodes"})
	if err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err = etcdClient(t, servers[0].c.DataDir, servers[0].opts.EtcdClientPort, nodeCert, nodeKey).Get(nctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err == nil {
		t.Fatal("a node's certificate from the cluster CA read etcd")
	}

	// Written through the third, read through the first.
	if _, err := servers[2].c.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first server reading the third's write", 5*time.Second, func() (bool, string) {
		_, err := servers[0].c.Client.CoreV1().ConfigMaps("default").Get(ctx, "before", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	holder := func(c kubernetes.Interface) string { return loopsLeader(ctx, c) }
	eventually(t, "server-1 leading", 10*time.Second, func() (bool, string) { h := holder(servers[1].c.Client); return h == "server-1", h })

	// The first server (the etcd cluster's founder and the loops' leader) stops.
	servers[0].c.Stop()
	if _, err := servers[1].c.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("during"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("writing with one of three members down: %v", err)
	}
	eventually(t, "another server leading", 10*time.Second, func() (bool, string) {
		h := holder(servers[2].c.Client)
		return h == "server-2" || h == "server-3", h
	})

	// It comes back (a restart needs no flag but its data dir) and reads what
	// was written while it was down.
	servers[0].opts.ClusterInit = false
	servers[0].opts.EtcdAdvertiseIP = "127.0.0.1" // a member on loopback, as the harness gave it
	servers[0].c = harness.StartCluster(t, servers[0].opts)
	eventually(t, "the restarted server reading the write made while it was down", 10*time.Second, func() (bool, string) {
		_, err := servers[0].c.Client.CoreV1().ConfigMaps("default").Get(ctx, "during", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})

	// Deleting a server's Node (kubectl delete node) takes its member out of
	// the etcd cluster. (These servers run no agent: the Node is made by hand.)
	nodes := servers[0].c.Client.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "server-3"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nodes.Delete(ctx, "server-3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "server-3's member removed", 30*time.Second, func() (bool, string) {
		m := etcdMembers(t, servers[0].c.DataDir, "server-1", servers[0].opts.EtcdClientPort)
		return len(m) == 2 && !slices.Contains(m, "server-3"), fmt.Sprint(m)
	})
}

// etcdMembers lists the voting members of the etcd a server's member belongs
// to, through its client port with its client certificate.
func etcdMembers(t *testing.T, dataDir, name string, port int) []string {
	t.Helper()
	dir := filepath.Join(dataDir, "server", "tls", "etcd")
	certPEM, keyPEM := readFile(t, filepath.Join(dir, "client.crt")), readFile(t, filepath.Join(dir, "client.key"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := etcdmember.Members(ctx, etcdClient(t, dataDir, port, certPEM, keyPEM))
	if err != nil {
		t.Fatalf("etcd members seen from %s: %v", name, err)
	}
	var voting []string
	for _, m := range members {
		if !m.IsLearner {
			voting = append(voting, m.Name)
		}
	}
	return voting
}

// etcdClient is a client of a server's member that presents certPEM.
func etcdClient(t *testing.T, dataDir string, port int, certPEM, keyPEM []byte) *clientv3.Client {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, filepath.Join(dataDir, "server", "tls", "etcd", "ca.crt")))
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{fmt.Sprintf("https://127.0.0.1:%d", port)}, DialTimeout: 5 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMigrateToEmbeddedEtcd: a server that kept its state in the embedded
// database, restarted with --cluster-init, moves it into its new etcd member
// once, and serves it from there.
func TestMigrateToEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd member")
	}
	ctx := context.Background()
	dir := t.TempDir()
	c := harness.StartCluster(t, harness.Options{DataDir: dir})
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("kept"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop()

	opts := harness.Options{DataDir: dir, ClusterInit: true, AdvertiseIP: "192.0.2.1",
		EtcdClientPort: harness.FreePort(t), EtcdPeerPort: harness.FreePort(t)}
	c = harness.StartCluster(t, opts)
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("the ConfigMap made before the move: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "server", "db", "state.db.migrated")); err != nil {
		t.Errorf("the old file is not set aside: %v", err)
	}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	// A move cut short (a crash before the file was set aside) goes on at
	// the next start, though the member is no longer new; what was already
	// moved, and what was written to etcd since, stays.
	db := filepath.Join(dir, "server", "db", "state.db")
	if err := os.Rename(db+".migrated", db); err != nil {
		t.Fatal(err)
	}
	opts.ClusterInit = false
	opts.EtcdAdvertiseIP = "127.0.0.1"
	c = harness.StartCluster(t, opts)
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file of a move cut short is still there after a restart: %v", err)
	}
	for _, name := range []string{"kept", "after"} {
		if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("after a restart, %s: %v", name, err)
		}
	}
}
