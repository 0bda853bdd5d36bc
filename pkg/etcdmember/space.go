package etcdmember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultSpaceCheck is how often KeepSpace looks for a space alarm.
const DefaultSpaceCheck = 30 * time.Second

// KeepSpace clears this member's NOSPACE alarm, until ctx ends. etcd raises
// the alarm once a member's database reaches its quota, and from then on the
// whole cluster refuses every write that adds data (deletes still go through)
// until the alarm is disarmed. When the alarm is up, KeepSpace compacts the
// history to the current revision (watches from an older one start again from
// a list, as after any compaction), defragments its member, which gives the
// freed pages back, and disarms the alarm once the database is under the
// quota again. A database whose live data alone fills the quota stays
// alarmed, with a warning saying what to do, and is tried again each time.
// It checks at once, then every `every` (DefaultSpaceCheck when zero).
func (m *Member) KeepSpace(ctx context.Context, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = DefaultSpaceCheck
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var full bool
	for {
		if err := m.reclaimSpace(ctx, log, &full); err != nil && ctx.Err() == nil {
			log.Warn("clearing the etcd space alarm", "member", m.cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reclaimSpace does one round of KeepSpace. full says the last round found
// live data filling the quota, which was logged then.
func (m *Member) reclaimSpace(ctx context.Context, log *slog.Logger, full *bool) error {
	alarms, err := m.client.AlarmList(ctx)
	if err != nil {
		return err
	}
	var alarm *etcdserverpb.AlarmMember
	for _, a := range alarms.Alarms {
		if a.Alarm == etcdserverpb.AlarmType_NOSPACE && a.MemberID == m.ID() {
			alarm = a
		}
	}
	if alarm == nil {
		*full = false
		return nil
	}
	endpoint := m.cfg.localClientURL()
	rev, err := m.client.Get(ctx, "/", clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	// Physical: the pages of the history are free once it returns.
	if _, err := m.client.Compact(ctx, rev.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return err
	}
	before, err := m.client.Status(ctx, endpoint)
	if err != nil {
		return err
	}
	if before.DbSizeInUse >= m.cfg.quota() {
		// Defragmenting cannot bring it under: not worth stalling the
		// member for.
		if !*full {
			log.Warn("the etcd database is full and the cluster refuses writes: delete objects to free space",
				"member", m.cfg.Name, "inUse", before.DbSizeInUse, "quota", m.cfg.quota())
		}
		*full = true
		return nil
	}
	if _, err := m.client.Defragment(ctx, endpoint); err != nil {
		return err
	}
	after, err := m.client.Status(ctx, endpoint)
	if err != nil {
		return err
	}
	if after.DbSize >= m.cfg.quota() {
		return fmt.Errorf("the database is %d bytes after defragmenting, over the quota of %d", after.DbSize, m.cfg.quota())
	}
	if _, err := m.client.AlarmDisarm(ctx, (*clientv3.AlarmMember)(alarm)); err != nil {
		return err
	}
	*full = false
	log.Warn("the etcd database reached its quota and was compacted and defragmented: writes go through again",
		"member", m.cfg.Name, "was", before.DbSize, "size", after.DbSize, "quota", m.cfg.quota())
	return nil
}
