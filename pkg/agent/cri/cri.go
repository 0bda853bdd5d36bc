// Package cri dials a Container Runtime Interface endpoint (k8s.io/cri-api v1
// over gRPC on a unix socket), the way the kubelet does. It holds no state of
// its own and must not know about Kubernetes objects.
package cri

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxMsgSize is the kubelet's limit for CRI messages (16 MiB).
const maxMsgSize = 16 << 20

// Client is both CRI services over one connection.
type Client struct {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
	conn     *grpc.ClientConn
	Endpoint string
}

// Dial connects to endpoint: "unix:///path", or a plain socket path. gRPC
// connects lazily; Wait checks that the runtime answers.
func Dial(endpoint string) (*Client, error) {
	target := endpoint
	if !strings.Contains(target, "://") {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	return &Client{
		RuntimeServiceClient: runtimeapi.NewRuntimeServiceClient(conn),
		ImageServiceClient:   runtimeapi.NewImageServiceClient(conn),
		conn:                 conn,
		Endpoint:             endpoint,
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Wait polls Version until the runtime answers or ctx ends.
func (c *Client) Wait(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	var lastErr error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := c.Version(callCtx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return v, nil
		}
		lastErr = err
		if status.Code(err) == codes.Unimplemented {
			return nil, fmt.Errorf("CRI endpoint %s answers but does not serve the CRI v1 API (is containerd's CRI plugin disabled or failing?): %w", c.Endpoint, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CRI endpoint %s not answering: %w", c.Endpoint, lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
