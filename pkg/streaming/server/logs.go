package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/streaming/crilog"
	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// serveLogs answers GET /containerLogs/NS/POD/CONTAINER with the kubelet's
// query (follow, previous, timestamps, tailLines, limitBytes, sinceSeconds,
// sinceTime) as plain text, flushed whenever a follower catches up.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request, namespace, pod, container string) {
	opts, err := podopts.Log(r.URL.Query(), pod)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	path, err := s.cfg.Runtime.ContainerLogPath(namespace, pod, container, opts.Previous)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = apierrors.NewNotFound(podsResource, fmt.Sprintf("%s/%s", pod, container))
		}
		wire.WriteStatus(w, err)
		return
	}
	f, err := s.openLog(path, namespace, pod)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	flush()
	rd := crilog.Reader{
		Reopen:  func() (*os.File, error) { return s.openLog(path, namespace, pod) },
		Running: s.writing(namespace, pod, container, path),
		Flush:   flush,
	}
	err = rd.Copy(r.Context(), f, crilog.Options{
		TailLines:  opts.TailLines,
		LimitBytes: opts.LimitBytes,
		Since:      podopts.Since(opts, s.cfg.Now()),
		Timestamps: opts.Timestamps,
		Follow:     opts.Follow,
	}, w, w)
	if err != nil && r.Context().Err() == nil {
		s.log.Debug("reading container log", "namespace", namespace, "pod", pod, "container", container, "err", err)
	}
}

// writing reports whether path is still being written: it is the current
// instance's log and (when the runtime can tell) that instance runs.
func (s *Server) writing(namespace, pod, container, path string) func(context.Context) bool {
	reporter, _ := s.cfg.Runtime.(RunningReporter)
	return func(ctx context.Context) bool {
		current, err := s.cfg.Runtime.ContainerLogPath(namespace, pod, container, false)
		if err != nil || current != path {
			return false
		}
		if reporter == nil {
			return true
		}
		running, err := reporter.ContainerRunning(ctx, namespace, pod, container)
		return err == nil && running
	}
}

// openLog opens a log file the Runtime named. With a LogDir it must be a
// *.log file inside that pod's directory, LogDir/NAMESPACE_POD_UID/ (pod and
// namespace names have no "_", so the prefix names one pod), and os.OpenInRoot
// refuses "..", absolute links and links that lead out of LogDir.
func (s *Server) openLog(path, namespace, pod string) (*os.File, error) {
	var (
		f   *os.File
		err error
	)
	if s.cfg.LogDir == "" {
		f, err = os.Open(path)
	} else {
		rel, relErr := filepath.Rel(s.cfg.LogDir, filepath.Clean(path))
		first, _, _ := strings.Cut(rel, string(filepath.Separator))
		if relErr != nil || !filepath.IsAbs(path) || !strings.HasPrefix(first, namespace+"_"+pod+"_") ||
			first == rel || filepath.Ext(rel) != ".log" {
			return nil, apierrors.NewForbidden(podsResource, pod, fmt.Errorf("log file %q is not a log in the pod's log directory under %q", path, s.cfg.LogDir))
		}
		f, err = os.OpenInRoot(s.cfg.LogDir, rel)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, apierrors.NewNotFound(podsResource, path)
		}
		if s.cfg.LogDir != "" {
			return nil, apierrors.NewForbidden(podsResource, pod, fmt.Errorf("opening log file %q: %w", path, err))
		}
		return nil, fmt.Errorf("opening log file %q: %w", path, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, apierrors.NewForbidden(podsResource, pod, fmt.Errorf("log file %q is not a regular file", path))
	}
	return f, nil
}
