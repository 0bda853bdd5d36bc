package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skiffhq/skiff/pkg/agent/cri"
)

// Defaults of Options.
const (
	DefaultBinary       = "/usr/bin/containerd"
	DefaultCNIBinDir    = "/usr/lib/cni"
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// maxSocketPath is the longest unix socket path the kernel accepts (108 bytes
// with the terminating NUL); the ttrpc socket adds ".ttrpc".
const maxSocketPath = 107

// Options configure a supervised containerd.
type Options struct {
	// DataDir is the agent's data directory; containerd lives in
	// DataDir/agent/containerd.
	DataDir string
	// Binary is containerd (default /usr/bin/containerd).
	Binary string
	// CNIBinDir holds the CNI plugins (default /usr/lib/cni).
	CNIBinDir string
	// SandboxImage is the pause image every sandbox runs (required). It must
	// be imported before the first sandbox: AfterStart does that.
	SandboxImage string
	// Mirror, when its URL is set, is the registry containerd tries first
	// for every image.
	Mirror Mirror
	// Snapshotter forces a snapshotter; default overlayfs when an overlay can
	// be mounted under the data dir, else native.
	Snapshotter string
	// NetNS, when set, is the path of a network namespace (/run/netns/NAME)
	// containerd runs in (through nsenter, which keeps the cgroup mounts that
	// `ip netns exec` would hide); pods' CNI plugins inherit it.
	NetNS string
	// AfterStart runs after every (re)start, once the runtime answers and
	// before Ready; an error stops the supervisor. The agent imports the
	// pause image here.
	AfterStart func(ctx context.Context, s *Supervisor) error
	// StartTimeout bounds how long containerd may take to answer (30s);
	// StopTimeout how long it has between SIGTERM and SIGKILL (10s).
	StartTimeout, StopTimeout time.Duration
	// RestartBackoff is the first delay before restarting a containerd that
	// died (1s), doubling up to MaxRestartBackoff (30s).
	RestartBackoff, MaxRestartBackoff time.Duration
	// Logger receives lifecycle messages (default discard).
	Logger *slog.Logger
}

// Supervisor starts, restarts and stops one containerd.
type Supervisor struct {
	opts        Options
	paths       Paths
	snapshotter string
	ready       chan struct{}
	log         *slog.Logger

	mu       sync.Mutex
	pid      int
	restarts int
}

// New checks the options and that the runtime's programs are installed.
func New(opts Options) (*Supervisor, error) {
	if opts.DataDir == "" {
		return nil, errors.New("containerd: no data dir")
	}
	if opts.SandboxImage == "" {
		return nil, errors.New("containerd: no sandbox image")
	}
	if opts.Binary == "" {
		opts.Binary = DefaultBinary
	}
	if opts.CNIBinDir == "" {
		opts.CNIBinDir = DefaultCNIBinDir
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.RestartBackoff == 0 {
		opts.RestartBackoff = time.Second
	}
	if opts.MaxRestartBackoff == 0 {
		opts.MaxRestartBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = abs
	paths := PathsFor(abs)
	if n := len(paths.Socket + ".ttrpc"); n > maxSocketPath {
		return nil, fmt.Errorf("containerd: socket path %s.ttrpc is %d bytes, longer than the kernel's limit of %d: choose a shorter --data-dir", paths.Socket, n, maxSocketPath)
	}
	if err := Preflight(opts.Binary, opts.CNIBinDir, opts.NetNS != ""); err != nil {
		return nil, err
	}
	return &Supervisor{opts: opts, paths: paths, ready: make(chan struct{}), log: opts.Logger.With("component", "containerd")}, nil
}

// Paths says where this containerd keeps its files and sockets.
func (s *Supervisor) Paths() Paths { return s.paths }

// SetMirrorFallbacks makes urls the registries tried after the mirror's own
// (the other servers' as they come and go), from the next pull on:
// containerd reads its registry hosts at every pull. Without a mirror it
// does nothing.
func (s *Supervisor) SetMirrorFallbacks(urls []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Mirror.URL == "" || slices.Equal(s.opts.Mirror.Fallbacks, urls) {
		return nil
	}
	m := s.opts.Mirror
	m.Fallbacks = slices.Clone(urls)
	if err := writeHostsTOML(s.paths.HostsDir, m); err != nil {
		return fmt.Errorf("containerd: registry hosts: %w", err)
	}
	s.opts.Mirror = m
	return nil
}

// Endpoint is the CRI endpoint, "unix://DATA_DIR/agent/containerd/containerd.sock".
func (s *Supervisor) Endpoint() string { return "unix://" + s.paths.Socket }

// Snapshotter is the snapshotter in use (known once Run has started).
func (s *Supervisor) Snapshotter() string { return s.snapshotter }

// Ready is closed once containerd answers and AfterStart has succeeded.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// PID is the running containerd's process ID (0 when none runs).
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Restarts counts how often containerd was started again after dying.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// RuntimeInfo is what the supervisor records in DATA_DIR/agent/containerd/runtime.json
// for other commands (`skiff image import`) to find the runtime.
type RuntimeInfo struct {
	Address     string `json:"address"`
	Snapshotter string `json:"snapshotter"`
}

// ReadRuntimeInfo reads the runtime.json of the containerd supervised for dataDir.
func ReadRuntimeInfo(dataDir string) (RuntimeInfo, error) {
	var info RuntimeInfo
	b, err := os.ReadFile(filepath.Join(PathsFor(dataDir).Dir, "runtime.json"))
	if err != nil {
		return info, fmt.Errorf("no Skiff-supervised containerd in %s (is the agent running?): %w", dataDir, err)
	}
	return info, json.Unmarshal(b, &info)
}

// Run prepares the configuration, starts containerd and keeps it running
// until ctx ends, then stops it. It returns an error when containerd cannot be
// started the first time.
func (s *Supervisor) Run(ctx context.Context) error {
	if err := s.prepare(); err != nil {
		return err
	}
	backoff := s.opts.RestartBackoff
	first := true
	for {
		started := time.Now()
		proc, err := s.start(ctx)
		if err == nil {
			err = s.afterStart(ctx, proc)
		}
		if err != nil {
			if proc != nil {
				s.stop(proc)
			}
			if ctx.Err() != nil {
				return nil
			}
			if first {
				return err
			}
			s.log.Error("containerd failed to restart", "err", err)
		} else {
			if first {
				close(s.ready)
				first = false
			}
			select {
			case <-ctx.Done():
				s.stop(proc)
				return nil
			case <-proc.done:
				s.log.Error("containerd exited; restarting", "err", proc.err, "after", backoff, "log", s.paths.Log)
			}
		}
		if time.Since(started) > 2*s.opts.MaxRestartBackoff {
			backoff = s.opts.RestartBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.opts.MaxRestartBackoff)
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

// prepare stops a containerd left over by a previous agent, picks the
// snapshotter and writes the configuration.
func (s *Supervisor) prepare() error {
	for _, d := range []string{s.paths.Dir, s.paths.Root, s.paths.State, s.paths.RuncRoot, s.paths.CNIConfDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := s.stopStale(); err != nil {
		return err
	}
	s.snapshotter = s.opts.Snapshotter
	if s.snapshotter == "" {
		sn, err := chooseSnapshotter(filepath.Join(s.paths.Root, "tmp"))
		if err != nil {
			return fmt.Errorf("containerd: choosing a snapshotter: %w", err)
		}
		s.snapshotter = sn
		if sn != "overlayfs" {
			s.log.Warn("overlay filesystems cannot be mounted under the data dir; using the slower native snapshotter", "dir", s.paths.Root)
		}
	}
	s.mu.Lock()
	mirror := s.opts.Mirror
	s.mu.Unlock()
	if err := writeHostsDir(s.paths.HostsDir, mirror); err != nil {
		return fmt.Errorf("containerd: registry hosts: %w", err)
	}
	cfg, err := renderConfig(configParams{Paths: s.paths, SandboxImage: s.opts.SandboxImage, Snapshotter: s.snapshotter, CNIBinDir: s.opts.CNIBinDir, Mirror: mirror.URL != ""})
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.paths.Config, cfg, 0o600); err != nil {
		return fmt.Errorf("containerd: writing %s: %w", s.paths.Config, err)
	}
	info, _ := json.Marshal(RuntimeInfo{Address: s.paths.Socket, Snapshotter: s.snapshotter})
	return os.WriteFile(filepath.Join(s.paths.Dir, "runtime.json"), info, 0o644)
}

// process is one started containerd.
type process struct {
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
	logOffset int64
}

func (s *Supervisor) start(ctx context.Context) (*process, error) {
	logf, err := openLog(s.paths.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, io.SeekEnd)

	args := []string{"--config", s.paths.Config}
	var cmd *exec.Cmd
	if s.opts.NetNS != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + s.opts.NetNS, "--", s.opts.Binary}, args...)...)
	} else {
		cmd = exec.Command(s.opts.Binary, args...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C meant for skiff must not reach
	// containerd before the agent has finished with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.opts.Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logOffset: offset}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.pid = cmd.Process.Pid
	s.mu.Unlock()
	_ = os.WriteFile(s.paths.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)

	waitCtx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel() // no point waiting for an answer from a dead process
		case <-waitCtx.Done():
		}
	}()
	client, err := cri.Dial(s.Endpoint())
	if err != nil {
		return p, err
	}
	defer client.Close()
	v, err := client.Wait(waitCtx)
	if err != nil {
		select {
		case <-p.done:
			return p, fmt.Errorf("containerd exited at start (%v); its log %s says:\n%s", p.err, s.paths.Log, s.logSince(p.logOffset))
		default:
		}
		return p, fmt.Errorf("containerd did not answer within %s (log %s):\n%s", s.opts.StartTimeout, s.paths.Log, s.logSince(p.logOffset))
	}
	s.log.Info("containerd is running", "pid", cmd.Process.Pid, "version", v.RuntimeVersion, "snapshotter", s.snapshotter, "socket", s.paths.Socket)
	return p, nil
}

func (s *Supervisor) afterStart(ctx context.Context, p *process) error {
	if s.opts.AfterStart == nil {
		return nil
	}
	if err := s.opts.AfterStart(ctx, s); err != nil {
		return fmt.Errorf("containerd started, but: %w", err)
	}
	return nil
}

// stop sends SIGTERM, then SIGKILL after StopTimeout, and waits for the exit.
// The shims (and so the pods' containers) keep running by design; Purge
// removes them.
func (s *Supervisor) stop(p *process) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(s.opts.StopTimeout):
		s.log.Warn("containerd did not stop after SIGTERM; killing it", "timeout", s.opts.StopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	s.mu.Lock()
	s.pid = 0
	s.mu.Unlock()
	_ = os.Remove(s.paths.PIDFile)
}

// stopStale stops a containerd that a previous agent started with this
// configuration and did not stop (it was killed, say).
func (s *Supervisor) stopStale() error {
	b, err := os.ReadFile(s.paths.PIDFile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !isOurContainerd(pid, s.paths.Config) {
		return nil
	}
	s.log.Warn("stopping a containerd left running by a previous agent", "pid", pid)
	if err := signalAndWait(pid, s.opts.StopTimeout); err != nil {
		return fmt.Errorf("containerd: stopping the previous instance (pid %d): %w", pid, err)
	}
	return nil
}

func isOurContainerd(pid int, config string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 0 && strings.HasSuffix(args[0], "containerd") && bytes.Contains(cmdline, []byte(config))
}

// signalAndWait sends SIGTERM to pid, then SIGKILL after timeout, and waits
// until the process is gone.
func signalAndWait(pid int, timeout time.Duration) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(timeout)
	killed := false
	for processExists(pid) {
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
			deadline = time.Now().Add(5 * time.Second)
		} else if killed && time.Now().After(deadline) {
			return fmt.Errorf("process %d survived SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// processExists is true while pid exists and is not a zombie.
func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func openLog(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > 32<<20 {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd log: %w", err)
	}
	return f, nil
}

// logSince returns the log written since offset (its last 4 KiB at most).
func (s *Supervisor) logSince(offset int64) string {
	b, err := os.ReadFile(s.paths.Log)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
