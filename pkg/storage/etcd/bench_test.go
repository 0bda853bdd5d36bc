package etcd_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// The benchmarks have the names and shapes of pkg/storage/bolt's, so the two compare
// as ratios. etcd runs in the test process, durable (it fsyncs its log), and is
// reached over loopback gRPC as a real one would be over the network.

// value is about the size of a small Kubernetes object.
var value = make([]byte, 512)

func open(b *testing.B) *etcd.Backend {
	b.Helper()
	return newBackend(b, etcdtest.Start(b, b.TempDir(), true), "/skiff")
}

// BenchmarkCreateSequential is the latency of one write from a lone caller: one
// transaction, one raft round on one member, and its fsync.
func BenchmarkCreateSequential(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := s.Create(ctx, fmt.Sprintf("/bench/%d", i), value); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(micros(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(micros(lat[len(lat)*99/100]), "p99-µs")
}

// BenchmarkCreateParallel is the throughput of many concurrent callers, whose
// writes etcd batches into shared fsyncs.
func BenchmarkCreateParallel(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	var n atomic.Int64
	b.SetParallelism(32) // callers per CPU: an API server has many requests in flight
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, fmt.Sprintf("/bench/%d", n.Add(1)), value); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	const keys = 1000
	fill(b, s, keys)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(ctx, fmt.Sprintf("/bench/%d", i%keys)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList10k(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	const keys = 10000
	fill(b, s, keys)
	b.ResetTimer()
	for range b.N {
		kvs, _, err := s.List(ctx, "/bench/")
		if err != nil || len(kvs) != keys {
			b.Fatalf("List = %d keys, %v", len(kvs), err)
		}
	}
}

// fill creates /bench/0 .. /bench/n-1 from concurrent callers, so batching keeps the
// setup short.
func fill(b *testing.B, s interface {
	Create(context.Context, string, []byte) (int64, error)
}, n int) {
	b.Helper()
	const callers = 64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += callers {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/bench/%d", i), value); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
