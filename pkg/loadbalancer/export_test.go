package loadbalancer

import (
	"context"
	"net"
)

const DeadAfterFailedChecks = deadAfterFailedChecks

type Dial = func(ctx context.Context, network, addr string) (net.Conn, error)

// WrapDial makes lb connect through wrap, which is handed the real dial.
// Call it before Run.
func WrapDial(lb *LoadBalancer, wrap func(Dial) Dial) { lb.dial = wrap(lb.dial) }
