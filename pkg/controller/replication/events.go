package replication

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// client-go's event spam filter: a burst of 25 events per source, object and
// type, then one every five minutes.
const (
	spamBurst = 25
	spamQPS   = 1. / 300.
)

// spamGuard drops, before they are correlated, the events about a set that
// client-go's broadcaster would drop anyway. Its spam filter runs last, after
// the correlator has aggregated the event and computed a strategic merge patch
// for it: for a storm of "Created pod" events, thousands of patches computed
// and thrown away. The same token bucket in front lets the same events through.
type spamGuard struct {
	record.EventRecorder
	clock clock.PassiveClock

	mu      sync.Mutex
	buckets map[string]flowcontrol.PassiveRateLimiter // by object UID and event type
}

func newSpamGuard(r record.EventRecorder, c clock.PassiveClock) *spamGuard {
	return &spamGuard{EventRecorder: r, clock: c, buckets: map[string]flowcontrol.PassiveRateLimiter{}}
}

func (g *spamGuard) allow(obj runtime.Object, eventtype string) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return true
	}
	key := string(m.GetUID()) + "/" + eventtype
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.buckets[key]
	if b == nil {
		b = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(spamQPS, spamBurst, g.clock)
		g.buckets[key] = b
	}
	return b.TryAccept()
}

// forget drops the buckets of an object that is gone.
func (g *spamGuard) forget(uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key := range g.buckets {
		if strings.HasPrefix(key, string(uid)+"/") {
			delete(g.buckets, key)
		}
	}
}

func (g *spamGuard) Event(obj runtime.Object, eventtype, reason, message string) {
	if g.allow(obj, eventtype) {
		g.EventRecorder.Event(obj, eventtype, reason, message)
	}
}

func (g *spamGuard) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	if g.allow(obj, eventtype) {
		g.EventRecorder.Eventf(obj, eventtype, reason, messageFmt, args...)
	}
}

func (g *spamGuard) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	if g.allow(obj, eventtype) {
		g.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, messageFmt, args...)
	}
}
