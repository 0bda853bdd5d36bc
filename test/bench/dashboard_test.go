package bench

import (
	"sort"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/harness"
)

// BenchmarkDashboardIdle: what the dashboard costs the server while nobody
// has it open, as the resident memory of idle servers with it and with
// --disable dashboard (three of each, alternately; the medians).
func BenchmarkDashboardIdle(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement; use -benchtime 1x")
	}
	measure := func(flags ...string) float64 {
		p := harness.StartProcess(b, "", flags...)
		time.Sleep(3 * time.Second) // let start-up garbage be collected before "idle"
		m := p.Memory(b)
		p.Kill()
		return float64(m.RSS) / (1 << 20)
	}
	var on, off []float64
	for range 3 {
		on = append(on, measure())
		off = append(off, measure("--disable", "dashboard"))
	}
	median := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	b.ReportMetric(median(on), "rss-MB-with")
	b.ReportMetric(median(off), "rss-MB-without")
	b.ReportMetric(median(on)-median(off), "rss-MB-dashboard")
}
