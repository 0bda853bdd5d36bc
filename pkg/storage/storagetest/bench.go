package storagetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// The benchmark bodies below are shared by every backend: each backend's
// bench_test.go calls them from Benchmark functions of the same names, so the
// backends' figures compare as ratios. Each takes a new, empty backend.

// benchValue is about the size of a small Kubernetes object.
var benchValue = make([]byte, 512)

// BenchCreateSequential reports the latency of one write from a lone caller.
func BenchCreateSequential(b *testing.B, s storage.Backend) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := s.Create(ctx, fmt.Sprintf("/bench/%d", i), benchValue); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(micros(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(micros(lat[len(lat)*99/100]), "p99-µs")
}

// BenchCreateParallel reports the throughput of many concurrent callers.
func BenchCreateParallel(b *testing.B, s storage.Backend) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32) // callers per CPU: an API server has many requests in flight
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, fmt.Sprintf("/bench/%d", n.Add(1)), benchValue); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// BenchGet reads 1000 keys in turn.
func BenchGet(b *testing.B, s storage.Backend) {
	ctx := context.Background()
	const keys = 1000
	fill(b, s, keys)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(ctx, fmt.Sprintf("/bench/%d", i%keys)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchList10k lists 10,000 keys.
func BenchList10k(b *testing.B, s storage.Backend) {
	ctx := context.Background()
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

// fill creates /bench/0 .. /bench/n-1 from concurrent callers, so a backend that
// batches concurrent writes keeps the setup short.
func fill(b *testing.B, s storage.Backend, n int) {
	b.Helper()
	const callers = 64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += callers {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/bench/%d", i), benchValue); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
