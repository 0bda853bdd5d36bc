package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage/bolt"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

// The benchmarks are storagetest's, under the names pkg/storage/etcd's have too.

func openBench(b *testing.B) *bolt.Backend {
	b.Helper()
	return open(b, filepath.Join(b.TempDir(), "skiff.db"))
}

// BenchmarkCreateSequential is the latency of one write from a lone caller: one
// transaction and its fsyncs.
func BenchmarkCreateSequential(b *testing.B) {
	storagetest.BenchCreateSequential(b, openBench(b))
}

// BenchmarkCreateParallel is the throughput of many concurrent callers sharing
// group commits.
func BenchmarkCreateParallel(b *testing.B) { storagetest.BenchCreateParallel(b, openBench(b)) }

func BenchmarkGet(b *testing.B) { storagetest.BenchGet(b, openBench(b)) }

func BenchmarkList10k(b *testing.B) { storagetest.BenchList10k(b, openBench(b)) }
