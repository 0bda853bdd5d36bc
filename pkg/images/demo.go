package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// DemoRef is the seed's demo image: the kubia app answering "You've hit <hostname>".
const DemoRef = "docker.io/luksa/kubia:latest"

// demoPackage is the kubia program's import path in this module.
const demoPackage = "github.com/skiffhq/skiff/images/kubia"

// BuildDemo compiles the kubia demo (images/kubia) with the Go toolchain as a
// static linux binary, packs it as DemoRef and writes the image tarball into
// dir, returning its path. It needs the Go toolchain and this module's source,
// so it is for tests and development machines, not for `skiff server`.
func BuildDemo(ctx context.Context, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "kubia")
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, demoPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the kubia demo (%s): %w\n%s", demoPackage, err, out.String())
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	img, err := Build(Spec{
		Files:        []File{{Path: "/kubia", Mode: 0o755, Data: prog}},
		Dirs:         []string{"tmp", "etc"},
		Entrypoint:   []string{"/kubia"},
		ExposedPorts: []string{"8080/tcp"},
		Arch:         runtime.GOARCH,
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubia.tar")
	if err := WriteFile(path, DemoRef, img); err != nil {
		return "", err
	}
	return path, nil
}
