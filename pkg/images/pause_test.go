package images

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestPauseProgramIsATinyStaticELF(t *testing.T) {
	prog, err := PauseProgram("amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) > 512 {
		t.Errorf("pause program is %d bytes; it should stay tiny", len(prog))
	}
	f, err := elf.NewFile(bytes.NewReader(prog))
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC || len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD {
		t.Errorf("unexpected ELF: class %v machine %v type %v progs %d", f.Class, f.Machine, f.Type, len(f.Progs))
	}
	if f.Entry != elfLoadAddr+elfCodeOffset {
		t.Errorf("entry %#x", f.Entry)
	}
	if _, err := PauseProgram("arm64"); err == nil {
		t.Error("no error for an unsupported architecture")
	}
}

// writePause writes the pause program to a temporary executable.
func writePause(t *testing.T) string {
	t.Helper()
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("the pause program is linux/amd64")
	}
	prog, err := PauseProgram("amd64")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(p, prog, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitExit(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited before the signal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pause exited with %v after %v, want status 0", err, sig)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("pause ignored %v", sig)
	}
}

func TestPauseExitsOnSignals(t *testing.T) {
	p := writePause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(p)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		waitExit(t, cmd, sig)
	}
}

// TestPauseAsPIDNamespaceInit runs pause as PID 1 of a new PID namespace, as
// in a pod sharing its process namespace: orphans are reaped, and SIGTERM
// from outside still stops it (the kernel drops signals an init neither
// handles nor blocks).
func TestPauseAsPIDNamespaceInit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter (util-linux)")
	}
	p := writePause(t)
	cmd := exec.Command(p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	pid := cmd.Process.Pid
	// The shell exits at once; its background sleep is orphaned to pause.
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-p", "sh", "-c", "sleep 0.3 & echo $!").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(children(pid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pause did not reap its orphaned child: children %v", children(pid))
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitExit(t, cmd, syscall.SIGTERM)
}

// children lists the processes (zombies included) whose parent is pid.
func children(pid int) []string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	return strings.Fields(string(b))
}

func TestPauseImageTarball(t *testing.T) {
	a, err := PauseImage()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := PauseImage()
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("building the pause image twice gave %s and %s", da, db)
	}
	path := filepath.Join(t.TempDir(), "pause.tar")
	if err := WritePauseFile(path); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(PauseRef)
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("reading the tarball back: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" || cf.OS != "linux" {
		t.Errorf("config %+v", cf.Config)
	}
	if st, _ := os.Stat(path); st.Size() > 16<<10 {
		t.Errorf("pause image tarball is %d bytes", st.Size())
	}
}
