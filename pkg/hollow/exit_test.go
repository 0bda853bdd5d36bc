package hollow

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestContainerExit(t *testing.T) {
	for _, tc := range []struct {
		command, args []string
		want          exit
		exits         bool
	}{
		{command: []string{"true"}, want: exit{}, exits: true},
		{command: []string{"/bin/false"}, want: exit{code: 1}, exits: true},
		{command: []string{"sh", "-c", "exit 0"}, want: exit{}, exits: true},
		{command: []string{"/bin/sh", "-c"}, args: []string{"echo hi; exit 3"}, want: exit{code: 3}, exits: true},
		{command: []string{"sh", "-c", "python -m http.server; exit 7"}, want: exit{code: 7}, exits: true},
		{command: []string{"bash", "-c", "sleep 2 && false"}, want: exit{code: 1, after: 2 * time.Second}, exits: true},
		{command: []string{"sleep", "5"}, want: exit{after: 5 * time.Second}, exits: true},
		{command: []string{"sleep"}, args: []string{"1m"}, want: exit{after: time.Minute}, exits: true},
		{command: []string{"sh", "-c", "sleep 1; exit 2; sleep 100"}, want: exit{code: 2, after: time.Second}, exits: true},
		{command: []string{"sleep", "infinity"}},
		{command: []string{"sh", "-c", "python -m http.server"}},
		{command: []string{"node", "app.js"}},
		{},
	} {
		got, exits := containerExit(&corev1.Container{Command: tc.command, Args: tc.args})
		if exits != tc.exits || (exits && got != tc.want) {
			t.Errorf("%q %q: %+v %v, want %+v %v", tc.command, tc.args, got, exits, tc.want, tc.exits)
		}
	}
}

func TestRestartDelay(t *testing.T) {
	for restarts, want := range map[int32]time.Duration{0: 0, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 100: 10 * time.Second} {
		if got := restartDelay(restarts); got != want {
			t.Errorf("restartDelay(%d) = %v, want %v", restarts, got, want)
		}
	}
}
