package etcdmember

import (
	"context"
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultScheduledName is what a Scheduler names its snapshots by default.
const DefaultScheduledName = "etcd-snapshot"

// Scheduler saves a snapshot every so often and prunes the old ones.
type Scheduler struct {
	// Client is the member to snapshot, normally Member.Client.
	Client *clientv3.Client
	// Dir is where snapshots go.
	Dir string
	// Name is what the snapshots are saved as (DefaultScheduledName when
	// empty); Prune only ever removes snapshots of this name, so servers
	// that share Dir each need their own, such as one with the node name.
	Name string
	// Every is the time between snapshots, the first one Every after Run
	// starts.
	Every time.Duration
	// Keep is how many of the newest snapshots stay.
	Keep int
	// Logger receives a line for each snapshot and each failure; nil
	// discards them.
	Logger *slog.Logger
}

// Run saves and prunes until ctx ends. A snapshot that fails is logged and
// the next one is tried at its time.
func (s *Scheduler) Run(ctx context.Context) error {
	switch {
	case s.Client == nil:
		return errors.New("etcd snapshot schedule: no client")
	case s.Every <= 0:
		return errors.New("etcd snapshot schedule: the interval must be positive")
	case s.Keep < 1:
		return errors.New("etcd snapshot schedule: keep at least one snapshot")
	}
	name := s.Name
	if name == "" {
		name = DefaultScheduledName
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		path, err := Save(ctx, s.Client, s.Dir, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error("etcd snapshot failed", "dir", s.Dir, "err", err)
			continue
		}
		log.Info("etcd snapshot saved", "path", path, "took", time.Since(start).Round(time.Millisecond))
		if err := Prune(s.Dir, name, s.Keep); err != nil {
			log.Error("pruning etcd snapshots failed", "dir", s.Dir, "err", err)
		}
	}
}
