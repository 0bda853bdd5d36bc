package ociregistry

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkImport imports a 200 MB docker-archive (four 50 MB layers of
// random data, uncompressed as `docker save` writes them) into a fresh store
// per iteration, next to `cp` of the same file (the floor: one read, one
// write) and `cp` followed by `sync` (the same durability as the import,
// which fsyncs every blob).
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "big.tar")
	writeDockerSave(b, file, savedImage{"bench/big:1", 4, 50 << 20})
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	mb := float64(fi.Size()) / 1e6
	var imp, cp, cpSync time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(filepath.Join(dir, "store"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := Import(context.Background(), s, file, nil); err != nil {
			b.Fatal(err)
		}
		imp += time.Since(start)
		b.StopTimer()
		os.RemoveAll(s.Dir())

		dst := filepath.Join(dir, "copy.tar")
		start = time.Now()
		if out, err := exec.Command("cp", file, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		cp += time.Since(start)
		os.Remove(dst)
		start = time.Now()
		if out, err := exec.Command("sh", "-c", `cp "$1" "$2" && sync "$2"`, "sh", file, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp && sync: %v %s", err, out)
		}
		cpSync += time.Since(start)
		os.Remove(dst)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(mb*n/imp.Seconds(), "import-MB/s")
	b.ReportMetric(mb*n/cp.Seconds(), "cp-MB/s")
	b.ReportMetric(mb*n/cpSync.Seconds(), "cp+sync-MB/s")
	b.ReportMetric(cp.Seconds()/imp.Seconds(), "import/cp-speed")
	b.ReportMetric(cpSync.Seconds()/imp.Seconds(), "import/cp+sync-speed")
}
