package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/skiffhq/skiff/pkg/pki"
)

// ControllersLease is the Lease in kube-system whose holder runs the control
// loops and the scheduler: with several servers sharing a datastore, one
// server at a time, as upstream's kube-controller-manager elects itself
// through its Lease of that name. Skiff's scheduler runs in the same term
// (one set of informers serves both).
const ControllersLease = "kube-controller-manager"

// LeaderElection times the election (upstream's defaults: a holder that
// stops renewing loses the lease after LeaseDuration; it gives up leading
// when it could not renew for RenewDeadline; candidates try every
// RetryPeriod).
type LeaderElection struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (e LeaderElection) withDefaults() LeaderElection {
	if e.LeaseDuration <= 0 {
		e.LeaseDuration = 15 * time.Second
	}
	if e.RenewDeadline <= 0 {
		e.RenewDeadline = e.LeaseDuration * 2 / 3
	}
	if e.RetryPeriod <= 0 {
		e.RetryPeriod = e.LeaseDuration * 2 / 15
	}
	return e
}

// lead runs term whenever this server, identity, holds the Lease
// kube-system/name, until ctx ends. A term ends when term returns or the
// lease is lost; lead waits for it to wind down before campaigning again, so
// two terms never overlap in one process. An error of a term ends lead; a
// lost lease does not (another server leads meanwhile). The lease is
// released when ctx ends, so a server that stops hands over at once; one
// that dies hands over when its lease runs out.
//
// A server that restarts under the same identity takes its lease back at
// once: a single server does not wait out its own lease.
func lead(ctx context.Context, client kubernetes.Interface, name, identity string, timing LeaderElection, log *slog.Logger, term func(context.Context) error) error {
	timing = timing.withDefaults()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: "kube-system", Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	for ctx.Err() == nil {
		var (
			termErr error
			ended   = make(chan struct{})
			// launched and abandoned settle, under mu, whether the term
			// client-go starts in its own goroutine runs: once Run has
			// returned, a term that has not started yet never will.
			mu                  sync.Mutex
			launched, abandoned bool
		)
		tctx, cancel := context.WithCancel(ctx)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   timing.LeaseDuration,
			RenewDeadline:   timing.RenewDeadline,
			RetryPeriod:     timing.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					mu.Lock()
					if abandoned {
						mu.Unlock()
						return
					}
					launched = true
					mu.Unlock()
					defer close(ended)
					log.Info("leading", "lease", name, "identity", identity)
					// An error once the lease is lost (lctx ended) is the
					// term winding down, not a failure: lead campaigns again.
					if err := term(lctx); err != nil && lctx.Err() == nil {
						termErr = err
						cancel() // end the election: the error ends lead
					}
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			cancel()
			return fmt.Errorf("leader election for %s: %w", name, err)
		}
		le.Run(tctx)
		mu.Lock()
		abandoned = !launched
		mu.Unlock()
		if launched {
			<-ended
		}
		cancel()
		if termErr != nil && ctx.Err() == nil {
			return termErr
		}
		if launched && ctx.Err() == nil {
			log.Warn("lost the lease: another server leads now; campaigning again", "lease", name, "identity", identity)
		}
	}
	return nil
}

// serverIdentity is this server in elections and identity Leases: its name
// and an ID made once for its data dir (DATA_DIR/server/instance-id), as
// upstream's "host_uuid". Two servers that share a name (hosts named alike,
// on an external datastore) are then never taken for one, and a server
// restarted on its data dir is the same one, which takes its leases back at
// once.
func serverIdentity(serverDir, name string) (string, error) {
	path := filepath.Join(serverDir, "instance-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return name + "_" + strings.TrimSpace(string(b)), nil
	}
	id := string(uuid.NewUUID())
	if err := pki.WriteFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("this server's instance ID: %w", err)
	}
	return name + "_" + id, nil
}
