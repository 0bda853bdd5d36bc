package crilog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"
)

// Options select what part of a log is written: the kubelet's reading of
// PodLogOptions.
type Options struct {
	// TailLines, when set, starts that many records before the end of the file
	// (a record is one line of the file, so a long line the runtime split
	// counts once per piece, as in the kubelet).
	TailLines *int64
	// LimitBytes, when set, ends the output after that many bytes.
	LimitBytes *int64
	// Since skips records written before it.
	Since time.Time
	// Timestamps prefixes each line with its RFC3339NanoFixed time and a space.
	Timestamps bool
	// Follow keeps reading as the file grows.
	Follow bool
}

// Reader copies one container's log file.
type Reader struct {
	// Reopen opens the log path again. A follower calls it to notice that the
	// file was replaced (rotated) or removed. Nil: the first file is followed.
	Reopen func() (*os.File, error)
	// Running reports whether the container instance writing the file still
	// runs. A follower stops, after writing what is left, once it does not.
	// Nil: following ends only with the context or a removed file.
	Running func(ctx context.Context) bool
	// Flush, when set, is called each time a follower has caught up with the
	// file, so that what was written reaches the client before it waits.
	Flush func()
	// Poll is how often a follower looks for new records (default 100ms).
	Poll time.Duration
	// Check is how often a follower asks Running and Reopen (default 1s).
	Check time.Duration
}

// errLimit ends a read at LimitBytes.
var errLimit = errors.New("byte limit reached")

// Copy writes the records of f selected by opts to stdout and stderr by their
// stream (a nil writer drops that stream). It returns nil at the end of the
// file, or for a follower once the container has stopped or the file is gone;
// ctx.Err() when ctx ends first. It owns f and closes it.
func (rd Reader) Copy(ctx context.Context, f *os.File, opts Options, stdout, stderr io.Writer) error {
	defer func() { f.Close() }()
	if opts.TailLines != nil {
		start, err := tailStart(f, *opts.TailLines)
		if err != nil {
			return fmt.Errorf("tailing %d lines of %s: %w", *opts.TailLines, f.Name(), err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("seeking in %s: %w", f.Name(), err)
		}
	}
	w := &writer{stdout: stdout, stderr: stderr, opts: &opts, remain: math.MaxInt64, midLine: map[string]bool{}}
	if opts.LimitBytes != nil {
		w.remain = *opts.LimitBytes
	}
	// Without follow, --tail=N writes N records even if the file grows meanwhile.
	records := int64(-1)
	if opts.TailLines != nil && !opts.Follow {
		records = *opts.TailLines
	}
	poll, check := rd.Poll, rd.Check
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	if check <= 0 {
		check = time.Second
	}

	var (
		parse     parseFunc
		pending   []byte // a record read up to EOF, before its newline was written
		lastCheck time.Time
		finishing bool // the writer has stopped: read what is left, then return
	)
	r := bufio.NewReaderSize(f, 64<<10)
	for records != 0 {
		chunk, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			pending = append(pending, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading %s: %w", f.Name(), err)
		}
		line := chunk
		if len(pending) > 0 {
			pending = append(pending, chunk...)
			line = pending
		}
		if err == io.EOF {
			if !opts.Follow {
				if len(line) == 0 {
					return nil
				}
				// An incomplete last record is still written, then the read ends.
				records = 1
			} else {
				// Keep the incomplete record until its newline arrives.
				pending = append(pending[:0], line...)
				if finishing {
					return nil
				}
				if rd.Flush != nil {
					rd.Flush()
				}
				if time.Since(lastCheck) >= check {
					lastCheck = time.Now()
					next, done := rd.next(ctx, f)
					switch {
					case done:
						// Read to the end once more: the writer may have
						// added lines after the last read.
						finishing = true
						continue
					case next != nil:
						err := drain(r, f.Name(), w, &parse, pending)
						f.Close()
						f, r, pending = next, bufio.NewReaderSize(next, 64<<10), pending[:0]
						if errors.Is(err, errLimit) {
							return nil
						}
						if err != nil {
							return err
						}
						continue
					}
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(poll):
				}
				continue
			}
		}
		pending = pending[:0]
		if err := w.record(line, &parse, f.Name()); err != nil {
			if errors.Is(err, errLimit) {
				return nil
			}
			return err
		}
		if records > 0 {
			records--
		}
	}
	return nil
}

// next tells a follower at the end of f what comes next: done when the
// container stopped or the file is gone, a new file when the path now names
// another one, else neither.
func (rd Reader) next(ctx context.Context, f *os.File) (*os.File, bool) {
	if rd.Running != nil && !rd.Running(ctx) {
		return nil, true
	}
	if rd.Reopen == nil {
		return nil, false
	}
	nf, err := rd.Reopen()
	if err != nil {
		return nil, errors.Is(err, fs.ErrNotExist)
	}
	a, err1 := f.Stat()
	b, err2 := nf.Stat()
	if err1 == nil && err2 == nil && os.SameFile(a, b) {
		nf.Close()
		return nil, false
	}
	return nf, false
}

// drain writes what is left in the old file of a rotation.
func drain(r *bufio.Reader, name string, w *writer, parse *parseFunc, pending []byte) error {
	rest, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	buf := append(pending, rest...)
	for len(buf) > 0 {
		line := buf
		if i := indexNL(buf); i >= 0 {
			line, buf = buf[:i+1], buf[i+1:]
		} else {
			buf = nil
		}
		if err := w.record(line, parse, name); err != nil {
			return err
		}
	}
	return nil
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// writer applies since, timestamps and limitBytes to records.
type writer struct {
	stdout, stderr io.Writer
	opts           *Options
	remain         int64
	// midLine is set per stream after a partial record: the next record of
	// that stream continues the line and gets no timestamp of its own.
	midLine map[string]bool
}

func (w *writer) record(line []byte, parse *parseFunc, name string) error {
	if *parse == nil {
		p, err := formatOf(line)
		if err != nil {
			return fmt.Errorf("log file %s: %w", name, err)
		}
		*parse = p
	}
	var msg message
	if err := (*parse)(line, &msg); err != nil {
		// A damaged record is skipped, as the kubelet does.
		return nil
	}
	return w.write(&msg)
}

func (w *writer) write(msg *message) error {
	continued := w.midLine[msg.stream]
	w.midLine[msg.stream] = msg.partial
	if msg.timestamp.Before(w.opts.Since) {
		return nil
	}
	out := w.stdout
	if msg.stream == Stderr {
		out = w.stderr
	}
	if out == nil {
		return nil
	}
	line := msg.log
	if w.opts.Timestamps && !continued {
		line = append([]byte(msg.timestamp.Format(RFC3339NanoFixed)+" "), line...)
	}
	if int64(len(line)) > w.remain {
		line = line[:w.remain]
	}
	n, err := out.Write(line)
	w.remain -= int64(n)
	if err != nil {
		return err
	}
	if n < len(line) {
		return io.ErrShortWrite
	}
	if w.remain <= 0 {
		return errLimit
	}
	return nil
}
