// Package browser drives Skiff's dashboard in a real headless Chromium
// (Debian's chromium package) with chromedp, the way a user reaches it: the
// URL `kubectl cluster-info` prints, opened through `kubectl proxy`. Each step
// saves a screenshot under artifacts/dashboard/ at the top of the repository
// (SKIFF_ARTIFACTS moves it). Without /usr/bin/chromium the tests skip; `make
// test` installs it as root.
package browser

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skiffhq/skiff/test/harness"
)

const chromium = "/usr/bin/chromium"

// Browser is one headless Chromium and where its screenshots go.
type Browser struct {
	t         testing.TB
	Ctx       context.Context
	artifacts string
	shot      int
}

// Start starts Chromium, stopped when the test ends. Its flags keep it from
// reaching out to the network (it would try Google's services at start).
func Start(t testing.TB, name string) *Browser { return StartIn(t, name, "") }

// StartIn is Start with Chromium in the network namespace netns (named in
// /run/netns), where it reaches what listens on that namespace's loopback.
// chromedp talks to it through pipes, which cross namespaces.
func StartIn(t testing.TB, name, netns string) *Browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s: install Debian's chromium package (scripts/deps.sh test does) to run the dashboard's browser tests", chromium)
	}
	exe := chromium
	if netns != "" {
		exe = filepath.Join(t.TempDir(), "chromium-in-"+netns)
		script := "#!/bin/sh\nexec nsenter --net=/run/netns/" + netns + " " + chromium + " \"$@\"\n"
		if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	dir := os.Getenv("SKIFF_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "artifacts")
	}
	dir = filepath.Join(dir, "dashboard", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Browser{t: t, Ctx: ctx, artifacts: dir}
}

// Run runs actions with a deadline, failing the test with what was being done.
func (b *Browser) Run(what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.Screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Screenshot saves the page as the next numbered PNG of this test.
func (b *Browser) Screenshot(step string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", step, err)
		return
	}
	b.shot++
	name := fmt.Sprintf("%02d-%s.png", b.shot, regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(step), "-"))
	path := filepath.Join(b.artifacts, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// Open navigates to the dashboard at url and waits for its app to start. A
// start that has not come within 20 s is logged with the page's files as the
// browser got them (name:HTTP status:ms), and the page is loaded again, at
// most twice, before the test fails.
func (b *Browser) Open(url string) {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		b.Run("open the dashboard", 30*time.Second, chromedp.Navigate(url))
		ctx, cancel := context.WithTimeout(b.Ctx, 21*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`window.skiff && window.skiff.ready === true`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
		cancel()
		if err == nil {
			return
		}
		files := Eval[string](b, "the page's files", `performance.getEntriesByType('resource').map(e => e.name.split('/').pop() + ':' + e.responseStatus + ':' + Math.round(e.duration)).join(' ')`)
		b.Screenshot(fmt.Sprintf("the app did not start %d", attempt))
		b.t.Logf("the dashboard's app did not start within 20 s (attempt %d); its files: %s", attempt, files)
		if attempt == 3 {
			b.t.Fatalf("the dashboard's app did not start after %d loads", attempt)
		}
	}
}

// Wait polls a JavaScript expression until it is true.
func (b *Browser) Wait(what, expr string, d time.Duration) {
	b.t.Helper()
	b.Run(what, d+time.Second, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
}

// Eval evaluates a JavaScript expression in b's page.
func Eval[T any](b *Browser, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.Screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// KubectlProxy runs `kubectl proxy` with k against the cluster on a free
// loopback port until the test ends, and returns its address.
func KubectlProxy(t testing.TB, c *harness.Cluster, k harness.Kubectl) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ServeKubectlProxy(t, exec.Command(k.Path, "--kubeconfig", c.Kubeconfig, "proxy", "--port", fmt.Sprint(port)))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// ServeKubectlProxy starts cmd, a `kubectl proxy` (perhaps run through
// nsenter), waits until it serves, and kills it when the test ends.
func ServeKubectlProxy(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("kubectl proxy said:\n%s", stderr.Bytes())
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Starting to serve on") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("kubectl proxy did not start")
	}
}

// DashboardURL is the dashboard's address through a kubectl proxy at proxy,
// found in the output of `kubectl cluster-info` as a user finds it.
func DashboardURL(t testing.TB, c *harness.Cluster, k harness.Kubectl, proxy string) string {
	t.Helper()
	out := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(c.MustRun(t, k, "", "cluster-info"), "")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "kubernetes-dashboard is running at ") {
			u := strings.TrimPrefix(line, "kubernetes-dashboard is running at ")
			return proxy + strings.TrimPrefix(u, c.Config.Host)
		}
	}
	t.Fatalf("kubectl cluster-info lists no dashboard:\n%s", out)
	return ""
}

// Newest is the newest real kubectl installed.
func Newest(t testing.TB) harness.Kubectl {
	ks := harness.Kubectls(t)
	return ks[len(ks)-1]
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
