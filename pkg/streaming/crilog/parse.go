// Package crilog reads container log files in the CRI format that containerd
// writes ("2024-01-01T00:00:00.000000000Z stdout F message") with the kubelet's
// semantics for kubectl logs: tail, since, timestamps, limitBytes and follow. It
// must not decide which file to read: callers resolve and confine the path.
package crilog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RFC3339NanoFixed is how timestamps are written out: always nine fractional
// digits, so that lines sort as text (the kubelet's format).
const RFC3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// Stream names in a CRI log line.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// message is one record of a log file.
type message struct {
	timestamp time.Time
	stream    string
	// partial records are a piece of a longer line; the line goes on in the
	// next record of the same stream.
	partial bool
	log     []byte
}

var errNoParse = errors.New("unsupported log format")

// parseCRI parses "TIMESTAMP STREAM TAGS CONTENT\n". TAGS is ':'-separated, the
// first tag P (partial) or F (full). A partial record's newline is not content.
func parseCRI(line []byte, msg *message) error {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return fmt.Errorf("%w: no timestamp", errNoParse)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return fmt.Errorf("%w: timestamp %q: %v", errNoParse, ts, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return fmt.Errorf("%w: no stream", errNoParse)
	}
	if s := string(stream); s != Stdout && s != Stderr {
		return fmt.Errorf("%w: stream %q", errNoParse, stream)
	}
	tags, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// "... stdout F" with nothing after is an empty full line.
		tags, content = bytes.TrimSuffix(rest, []byte{'\n'}), []byte{'\n'}
	}
	first, _, _ := bytes.Cut(tags, []byte{':'})
	msg.timestamp = t
	msg.stream = string(stream)
	msg.partial = string(first) == "P"
	if msg.partial {
		content = bytes.TrimSuffix(content, []byte{'\n'})
	}
	msg.log = content
	return nil
}

// parseDockerJSON parses the json-file format older runtimes wrote:
// {"log":"content\n","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}.
func parseDockerJSON(line []byte, msg *message) error {
	var l struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return fmt.Errorf("%w: %v", errNoParse, err)
	}
	if l.Stream != Stdout && l.Stream != Stderr {
		return fmt.Errorf("%w: stream %q", errNoParse, l.Stream)
	}
	msg.timestamp = l.Time
	msg.stream = l.Stream
	msg.partial = false
	msg.log = []byte(l.Log)
	return nil
}

type parseFunc func([]byte, *message) error

// formatOf picks the parser for a file from its first record.
func formatOf(line []byte) (parseFunc, error) {
	var m message
	if parseCRI(line, &m) == nil {
		return parseCRI, nil
	}
	if parseDockerJSON(line, &m) == nil {
		return parseDockerJSON, nil
	}
	return nil, fmt.Errorf("%w: %q", errNoParse, truncate(line, 80))
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
