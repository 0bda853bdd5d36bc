package server

import "path/filepath"

// Where a server keeps things under its data dir, for commands that work on
// a server's files from outside it (skiff etcd-snapshot). The server itself
// joins these paths from serverDir; they must agree.

// DefaultHTTPSPort is the port the API listens on without
// --https-listen-port.
const DefaultHTTPSPort = 6443

// serverDirIn is DATA_DIR/server, what the server calls serverDir.
func serverDirIn(dataDir string) string { return filepath.Join(dataDir, "server") }

// EtcdDataDir is the data of the server's embedded etcd member.
func EtcdDataDir(dataDir string) string { return etcdDir(serverDirIn(dataDir)) }

// EtcdCertDir holds the embedded etcd member's certificates, as
// etcdmember.EnsureCerts keeps them (etcdmember.CertsIn).
func EtcdCertDir(dataDir string) string { return etcdCertDir(serverDirIn(dataDir)) }

// EtcdCADir holds the CA that signs the embedded etcd members'
// certificates and nothing else.
func EtcdCADir(dataDir string) string { return filepath.Join(serverDirIn(dataDir), etcdCADir) }

// ServerTokenFile holds the token another server joins this one's cluster
// with (--server URL --token TOKEN).
func ServerTokenFile(dataDir string) string {
	return filepath.Join(serverDirIn(dataDir), "server-token")
}

// DefaultServerName is the name a server goes by without --server-name and
// --node-name: the lower-cased host name.
func DefaultServerName() (string, error) { return nodeName("") }
