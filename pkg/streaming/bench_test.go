package streaming_test

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
)

// BenchmarkExecCat pushes 100 MB through `cat` in a pod and back, as `kubectl
// exec -i` does, over each transport and the whole chain: TLS to the API
// server's proxy, TLS to the agent, the runtime's streaming server. With
// WebSocket the proxy translates every message to SPDY and back; the target
// is a throughput at least SPDY's.
func BenchmarkExecCat(b *testing.B) {
	const size = 100 << 20
	opts := &corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true}
	for _, transport := range transports {
		b.Run(transport, func(b *testing.B) {
			c := newChain(b)
			c.running(pod("kubia", "main"))
			u := c.execURL("kubia", "exec", opts)
			newExecutor := func() (remotecommand.Executor, error) {
				if transport == "spdy" {
					return remotecommand.NewSPDYExecutor(c.config, http.MethodPost, u)
				}
				return remotecommand.NewWebSocketExecutor(c.config, http.MethodGet, u.String())
			}
			b.SetBytes(size)
			// The CPU every layer spends, client and runtime included, is
			// a figure that holds on a busy machine, where throughput
			// does not.
			cpu := cpuTime()
			for b.Loop() {
				e, err := newExecutor()
				if err != nil {
					b.Fatal(err)
				}
				var out countingWriter
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err = e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: io.LimitReader(zeros{}, size), Stdout: &out})
				cancel()
				if err != nil || out != size {
					b.Fatalf("cat of %d bytes: %d back, %v", size, out, err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
