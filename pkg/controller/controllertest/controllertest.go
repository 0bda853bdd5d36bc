// Package controllertest is what the tests of control loops share: running
// loops on an informer factory for the length of a test, and waiting for what
// they should bring about. Only tests import it; it must not be linked into
// Skiff.
package controllertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/informers"
)

// Loop is a control loop.
type Loop interface {
	Run(ctx context.Context) error
}

// Run starts factory and loops; when the test ends it stops them, fails the
// test if a loop's Run returned an error, and shuts factory down.
func Run(t testing.TB, factory informers.SharedInformerFactory, loops ...Loop) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, len(loops))
	for _, l := range loops {
		go func() { done <- l.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range loops {
			// A loop stopped before its caches synced says context.Canceled:
			// a normal stop, as the server treats it.
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		}
		factory.Shutdown()
	})
}

// Timeout is how long Eventually waits.
const Timeout = 15 * time.Second

// Eventually polls cond until it holds, and fails the test if it does not
// within Timeout, with what cond last said of the state it saw.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state: %s", what, last)
}
