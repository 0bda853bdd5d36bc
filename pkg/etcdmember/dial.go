package etcdmember

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// CertsIn are the files EnsureCerts keeps in dir, whether or not they are
// there yet: what a process that did not issue them, such as
// `skiff etcd-snapshot`, opens.
func CertsIn(dir string) Certs {
	return Certs{
		CAFile:         filepath.Join(dir, "ca.crt"),
		PeerCertFile:   filepath.Join(dir, "peer.crt"),
		PeerKeyFile:    filepath.Join(dir, "peer.key"),
		ServerCertFile: filepath.Join(dir, "server.crt"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.crt"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
	}
}

// Dial is a client of the members at endpoints with the client certificate
// in certs, as a Skiff server connects to its own member, once one of them
// has answered. A member answers without a quorum. ctx bounds only the
// wait; close the client when done. A missing certificate file is an error
// that wraps fs.ErrNotExist.
func Dial(ctx context.Context, certs Certs, endpoints []string) (*clientv3.Client, error) {
	cli, err := newClient(certs, endpoints, zap.NewNop())
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ep := range endpoints {
		_, err := cli.Status(ctx, ep)
		if err == nil {
			return cli, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	cli.Close()
	return nil, fmt.Errorf("no etcd member answers: %w", errors.Join(errs...))
}
