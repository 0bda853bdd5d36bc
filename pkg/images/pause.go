package images

import (
	"encoding/binary"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PauseRef is the pause image every pod sandbox runs (containerd's
// sandbox_image). It is Skiff's own and is imported at agent start, so no
// registry is ever needed for a sandbox.
const PauseRef = "registry.skiff.local/pause:3.10"

// Linux x86-64 system call and signal numbers used by the pause program.
const (
	sysRtSigprocmask  = 14
	sysWait4          = 61
	sysRtSigtimedwait = 128
	sysExitGroup      = 231

	sigINT  = 2
	sigTERM = 15
	sigCHLD = 17

	sigBlock = 0
	wNoHang  = 1
)

// PauseProgram returns the pause program: a static linux/amd64 executable of a
// few hundred bytes that blocks SIGINT, SIGTERM and SIGCHLD and waits for them
// with rt_sigtimedwait. SIGCHLD reaps every exited child (it is PID 1 of the
// pod when the pod shares its PID namespace); SIGINT and SIGTERM exit 0.
//
// Waiting on blocked signals instead of installing handlers is what tini and
// catatonit do; it matters because the kernel discards signals sent to a PID
// namespace's init unless the init handles or blocks them, so a pause that
// relied on default dispositions could never be stopped by SIGTERM.
func PauseProgram(goarch string) ([]byte, error) {
	if goarch != "amd64" {
		return nil, fmt.Errorf("pause program: GOARCH %q is not supported (only amd64)", goarch)
	}
	// The code's length does not depend on the sigset's address (every
	// immediate is 32 bits), so assemble once to learn where the sigset
	// lands, then again with the address filled in.
	code, err := pauseCode(0)
	if err != nil {
		return nil, err
	}
	sigset := uint32(elfLoadAddr + elfCodeOffset + len(code))
	if code, err = pauseCode(sigset); err != nil {
		return nil, err
	}
	mask := uint64(1)<<(sigINT-1) | uint64(1)<<(sigTERM-1) | uint64(1)<<(sigCHLD-1)
	code = binary.LittleEndian.AppendUint64(code, mask)
	return staticELF(code), nil
}

func pauseCode(sigset uint32) ([]byte, error) {
	a := newAsm()
	// rt_sigprocmask(SIG_BLOCK, &sigset, NULL, 8)
	a.movEAX(sysRtSigprocmask)
	a.xorEDI()
	a.movESI(sigset)
	a.xorEDX()
	a.movR10D(8)
	a.syscall()

	// for { sig := rt_sigtimedwait(&sigset, NULL, NULL, 8); ... }
	a.label("wait")
	a.movEAX(sysRtSigtimedwait)
	a.movEDI(sigset)
	a.xorESI()
	a.xorEDX()
	a.movR10D(8)
	a.syscall()
	a.cmpEAX(sigCHLD)
	a.jne("other")

	// SIGCHLD: while wait4(-1, NULL, WNOHANG, NULL) > 0 {}
	a.label("reap")
	a.movEAX(sysWait4)
	a.movRDIMinus1()
	a.xorESI()
	a.movEDX(wNoHang)
	a.xorR10D()
	a.syscall()
	a.testRAX()
	a.jg("reap")
	a.jmp("wait")

	// SIGINT or SIGTERM: exit_group(0). Anything else (-EINTR): wait again.
	a.label("other")
	a.cmpEAX(sigINT)
	a.je("exit")
	a.cmpEAX(sigTERM)
	a.je("exit")
	a.jmp("wait")
	a.label("exit")
	a.movEAX(sysExitGroup)
	a.xorEDI()
	a.syscall()
	return a.finish()
}

// hostPauseProgram is the pause program for the machine we run on.
func hostPauseProgram() ([]byte, error) { return PauseProgram(runtime.GOARCH) }

// PauseImage is the pause image for this machine's architecture: one layer
// holding /pause.
func PauseImage() (v1.Image, error) {
	prog, err := hostPauseProgram()
	if err != nil {
		return nil, err
	}
	return Build(Spec{
		Files:      []File{{Path: "/pause", Mode: 0o755, Data: prog}},
		Entrypoint: []string{"/pause"},
		Arch:       runtime.GOARCH,
	})
}

// WritePauseFile writes the pause image, tagged PauseRef, as an image tarball.
func WritePauseFile(path string) error {
	img, err := PauseImage()
	if err != nil {
		return err
	}
	return WriteFile(path, PauseRef, img)
}
