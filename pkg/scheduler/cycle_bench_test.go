package scheduler

import (
	"fmt"
	"testing"
)

// BenchmarkScheduleCycle is the scheduling cycle alone (filter, score, assume)
// for pods of one controller on 100 nodes, without the API server: the part of
// the per-pod cost that is the scheduler's own.
func BenchmarkScheduleCycle(b *testing.B) {
	s := &Scheduler{cache: newCache()}
	for i := range 100 {
		s.cache.setNode(testNode(fmt.Sprintf("n%d", i), "32", "256Gi", 110).node)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%3000 == 0 {
			b.StopTimer()
			s.cache = newCache()
			for j := range 100 {
				s.cache.setNode(testNode(fmt.Sprintf("n%d", j), "32", "256Gi", 110).node)
			}
			b.StartTimer()
		}
		pi := testPod(fmt.Sprintf("p%d", i), container("10m", "16Mi"), owned("rc"))
		s.cache.mu.Lock()
		node, _ := s.pickNodeLocked(pi)
		if node == "" {
			b.Fatal("no node fits")
		}
		s.cache.assumeLocked(pi, node)
		s.cache.mu.Unlock()
	}
}
