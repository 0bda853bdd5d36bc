package etcdmember

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestKeepSpaceClearsTheAlarm: a member whose database reaches its quota
// refuses writes; KeepSpace leaves the alarm up while live data fills the
// quota, and once the data is deleted compacts, defragments and disarms, and
// writes go through again.
func TestKeepSpaceClearsTheAlarm(t *testing.T) {
	cfg := testConfig(t, testCA(t), "full")
	cfg.Quota = 2 << 20
	m := start(t, cfg)
	ctx := ctxTimeout(t, time.Minute)
	value := strings.Repeat("x", 100<<10)
	filled := false
	for i := range 100 {
		_, err := m.Client().Put(ctx, fmt.Sprintf("/fill/%03d", i), value)
		if errors.Is(err, rpctypes.ErrNoSpace) {
			filled = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !filled {
		t.Fatal("100 puts of 100 KiB never reached the 2 MiB quota")
	}
	// Live data that fills the quota keeps the alarm up, whatever is
	// compacted and defragmented.
	go m.KeepSpace(ctx, 50*time.Millisecond, testLogger(t))
	time.Sleep(500 * time.Millisecond)
	if _, err := m.Client().Put(ctx, "/after", "1"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("a write with live data at the quota: %v, want it refused", err)
	}
	// Deleting it frees the space: deletes go through the alarm, and
	// KeepSpace clears it (without KeepSpace, it stays up for good).
	if _, err := m.Client().Delete(ctx, "/fill/", clientv3.WithPrefix()); err != nil {
		t.Fatalf("deletes go through the alarm: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := m.Client().Put(ctx, "/after", "1")
		if err == nil {
			break
		}
		if !errors.Is(err, rpctypes.ErrNoSpace) || time.Now().After(deadline) {
			t.Fatalf("a write once KeepSpace runs: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	alarms, err := m.Client().AlarmList(ctx)
	if err != nil || len(alarms.Alarms) != 0 {
		t.Fatalf("alarms after KeepSpace: %v %v", alarms, err)
	}
}
