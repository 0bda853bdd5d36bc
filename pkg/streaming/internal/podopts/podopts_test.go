package podopts

import (
	"net/url"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestBool(t *testing.T) {
	q, _ := url.ParseQuery("a=true&b=1&c=false&d=0&e=&f=FALSE&g=yes")
	for name, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false, "e": true, "f": false, "g": true, "missing": false} {
		if got := Bool(q, name); got != want {
			t.Errorf("Bool(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestLog(t *testing.T) {
	q, _ := url.ParseQuery("container=c&follow=true&tailLines=10&limitBytes=5&sinceTime=2024-01-01T00:00:00Z&timestamps=1&previous=false")
	opts, err := Log(q, "p")
	if err != nil {
		t.Fatal(err)
	}
	if got := LogQuery(opts).Encode(); got != "follow=true&limitBytes=5&sinceTime=2024-01-01T00%3A00%3A00Z&tailLines=10&timestamps=true" {
		t.Errorf("LogQuery = %s", got)
	}
	for _, bad := range []string{"tailLines=x", "sinceTime=yesterday"} {
		q, _ := url.ParseQuery(bad)
		if _, err := Log(q, "p"); !apierrors.IsBadRequest(err) {
			t.Errorf("%s: %v, want 400", bad, err)
		}
	}
	for _, bad := range []string{"tailLines=-1", "limitBytes=0", "sinceSeconds=-5", "sinceSeconds=1&sinceTime=2024-01-01T00:00:00Z"} {
		q, _ := url.ParseQuery(bad)
		if _, err := Log(q, "p"); !apierrors.IsInvalid(err) {
			t.Errorf("%s: %v, want 422", bad, err)
		}
	}
}

func TestNodeQuery(t *testing.T) {
	q := NodeQuery([]string{"sh", "-c", "echo a&b"}, Streams{Stdin: true, Stdout: true, Stderr: true, TTY: true})
	cmd, s, err := FromNodeQuery(q)
	if err != nil || !reflect.DeepEqual(cmd, []string{"sh", "-c", "echo a&b"}) || s != (Streams{Stdin: true, Stdout: true, TTY: true}) {
		t.Errorf("round trip = %q %+v %v (a terminal has no separate stderr)", cmd, s, err)
	}
	if _, _, err := FromNodeQuery(url.Values{"command": {"ls"}}); !apierrors.IsBadRequest(err) {
		t.Errorf("no streams: %v", err)
	}
}

func TestPorts(t *testing.T) {
	q, _ := url.ParseQuery("ports=8080,9090&ports=80")
	if got, err := Ports(q, "ports"); err != nil || !reflect.DeepEqual(got, []int32{8080, 9090, 80}) {
		t.Errorf("Ports = %v, %v", got, err)
	}
	if got := PortsQuery([]int32{8080, 9090}).Encode(); got != "port=8080%2C9090" {
		t.Errorf("PortsQuery = %s", got)
	}
	for _, bad := range []string{"ports=0", "ports=65536", "ports=http"} {
		q, _ := url.ParseQuery(bad)
		if _, err := Ports(q, "ports"); !apierrors.IsBadRequest(err) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
