// Package podopts reads and writes the query parameters of the streaming pod
// subresources with the API server's conversion rules (PodLogOptions,
// PodExecOptions, PodAttachOptions, PodPortForwardOptions) and the kubelet's
// names for the hop to the node. It must not look anything up.
package podopts

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bool reads a flag as the API server's parameter codec does: absent, "0"
// and "false" are false, any other value true.
func Bool(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return false
	}
	return v[0] != "0" && !strings.EqualFold(v[0], "false")
}

func int64Param(q url.Values, name string) (*int64, error) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return nil, nil
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s: %q is not an integer", name, v[0]))
	}
	return &n, nil
}

// Log reads PodLogOptions and validates them as the API server does:
// malformed values are 400, out-of-range ones 422 Invalid.
func Log(q url.Values, pod string) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{
		Container:  q.Get("container"),
		Follow:     Bool(q, "follow"),
		Previous:   Bool(q, "previous"),
		Timestamps: Bool(q, "timestamps"),
	}
	var err error
	if opts.SinceSeconds, err = int64Param(q, "sinceSeconds"); err != nil {
		return nil, err
	}
	if opts.TailLines, err = int64Param(q, "tailLines"); err != nil {
		return nil, err
	}
	if opts.LimitBytes, err = int64Param(q, "limitBytes"); err != nil {
		return nil, err
	}
	if v := q.Get("sinceTime"); v != "" {
		var t metav1.Time
		if err := t.UnmarshalQueryParameter(v); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("sinceTime: %q is not an RFC3339 time", v))
		}
		opts.SinceTime = &t
	}
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, pod, errs)
	}
	return opts, nil
}

// LogQuery is the query of the hop to the node (the container is in the path).
func LogQuery(opts *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	return q
}

// Since is the earliest time a log line may carry: the later of sinceSeconds
// before now and sinceTime, as the kubelet computes it.
func Since(opts *corev1.PodLogOptions, now time.Time) time.Time {
	var since time.Time
	if opts.SinceSeconds != nil {
		since = now.Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	if opts.SinceTime != nil && opts.SinceTime.After(since) {
		since = opts.SinceTime.Time
	}
	return since
}

// Streams are the standard streams and terminal of an exec or attach.
type Streams struct {
	Stdin, Stdout, Stderr, TTY bool
}

// Exec reads PodExecOptions (or PodAttachOptions, without command) from the
// client's query.
func Exec(q url.Values) (container string, command []string, s Streams) {
	return q.Get("container"), q["command"], Streams{
		Stdin: Bool(q, "stdin"), Stdout: Bool(q, "stdout"), Stderr: Bool(q, "stderr"), TTY: Bool(q, "tty"),
	}
}

// NodeQuery is the kubelet's query for an exec or attach: input, output,
// error and tty set to "1", and the command repeated.
func NodeQuery(command []string, s Streams) url.Values {
	q := url.Values{}
	if s.Stdin {
		q.Set("input", "1")
	}
	if s.Stdout {
		q.Set("output", "1")
	}
	if s.Stderr {
		q.Set("error", "1")
	}
	if s.TTY {
		q.Set("tty", "1")
	}
	for _, c := range command {
		q.Add("command", c)
	}
	return q
}

// FromNodeQuery reads what NodeQuery wrote, with the kubelet's rules: a
// terminal merges stderr into stdout, and at least one stream is needed.
func FromNodeQuery(q url.Values) (command []string, s Streams, err error) {
	one := func(name string) bool { v := q.Get(name); return v == "1" || v == "true" }
	s = Streams{Stdin: one("input"), Stdout: one("output"), Stderr: one("error"), TTY: one("tty")}
	if s.TTY {
		s.Stderr = false
	}
	if !s.Stdin && !s.Stdout && !s.Stderr {
		return nil, s, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return q["command"], s, nil
}

// Ports reads PodPortForwardOptions.ports: repeated or comma-separated port
// numbers (the client's "ports", the kubelet's "port").
func Ports(q url.Values, name string) ([]int32, error) {
	var ports []int32
	for _, v := range q[name] {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: must be a number between 1 and 65535", p))
			}
			ports = append(ports, int32(n))
		}
	}
	return ports, nil
}

// PortsQuery is the kubelet's "port" parameter.
func PortsQuery(ports []int32) url.Values {
	q := url.Values{}
	if len(ports) > 0 {
		s := make([]string, len(ports))
		for i, p := range ports {
			s[i] = strconv.Itoa(int(p))
		}
		q.Set("port", strings.Join(s, ","))
	}
	return q
}
