package hollow

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
)

// StartN starts n hollow nodes named PREFIX-1 ... PREFIX-n, where PREFIX is
// opts.Name (default "hollow"), each with the rest of opts, and returns once all
// of them are registered and handling pods. opts.InternalIP is ignored. They run until ctx ends; Done and
// Err on each tell when and why one stopped.
func StartN(ctx context.Context, client kubernetes.Interface, n int, opts Options) ([]*Node, error) {
	prefix := opts.Name
	if prefix == "" {
		prefix = "hollow"
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		o := opts
		o.Name = fmt.Sprintf("%s-%d", prefix, i+1)
		o.Labels = cloneLabels(opts.Labels)
		o.InternalIP = "" // each its own, from its name
		nodes[i] = New(client, o)
		go func() { _ = nodes[i].Run(ctx) }()
	}
	for _, node := range nodes {
		select {
		case <-node.Ready():
		case <-node.Done():
			if err := node.Err(); err != nil {
				return nodes, fmt.Errorf("hollow node %q: %w", node.Name(), err)
			}
			return nodes, ctx.Err()
		case <-ctx.Done():
			return nodes, ctx.Err()
		}
	}
	return nodes, nil
}
