package etcd_test

import (
	"testing"

	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

// The benchmarks are storagetest's, under the names pkg/storage/bolt's have too, so
// the two compare as ratios. etcd runs in the test process, durable (it fsyncs its
// log), and is reached over loopback gRPC as a real one would be over the network.

func openBench(b *testing.B) *etcd.Backend {
	b.Helper()
	return newBackend(b, etcdtest.Start(b, b.TempDir(), true), "/skiff")
}

// BenchmarkCreateSequential is the latency of one write from a lone caller: one
// transaction, one raft round on one member, and its fsync.
func BenchmarkCreateSequential(b *testing.B) {
	storagetest.BenchCreateSequential(b, openBench(b))
}

// BenchmarkCreateParallel is the throughput of many concurrent callers, whose
// writes etcd batches into shared fsyncs.
func BenchmarkCreateParallel(b *testing.B) { storagetest.BenchCreateParallel(b, openBench(b)) }

func BenchmarkGet(b *testing.B) { storagetest.BenchGet(b, openBench(b)) }

func BenchmarkList10k(b *testing.B) { storagetest.BenchList10k(b, openBench(b)) }
