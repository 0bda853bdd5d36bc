// Package etcdtest starts a real etcd inside a test process, on loopback, for
// the tests of the etcd storage backend and of servers that share one. It must
// not be imported outside tests.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Server is a one-member etcd embedded in the test process, on loopback.
type Server struct {
	Etcd     *embed.Etcd
	Endpoint string
}

// Start starts an etcd on dir, on free loopback ports; the test stops it. Unless
// durable, it does not fsync: the contract does not kill the machine.
func Start(t testing.TB, dir string, durable bool) *Server {
	t.Helper()
	var err error
	for range 5 {
		var ports []int
		if ports, err = FreePorts(2); err != nil {
			break
		}
		var s *Server
		if s, err = StartOn(dir, ports[0], ports[1], durable); err == nil {
			t.Cleanup(s.Etcd.Close)
			return s
		}
		// Another test may have taken a port between picking and binding it.
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start etcd: %v", err)
	return nil
}

// StartOn starts an etcd on dir serving clients on 127.0.0.1:clientPort.
func StartOn(dir string, clientPort, peerPort int, durable bool) (*Server, error) {
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg := embed.NewConfig()
	cfg.Name = "skiff-test"
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = !durable
	cfg.TickMs, cfg.ElectionMs = 10, 100 // one member elects itself at once
	cfg.EnableGRPCGateway = false
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, errors.New("etcd not ready after 30s")
	}
	return &Server{Etcd: e, Endpoint: clientURL.String()}, nil
}

// FreePorts picks n free loopback ports.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
