package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/agent/netns"
	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/test/harness"
)

// skiff runs the skiff binary inside the node's namespace.
func (n *node) skiff(args ...string) (string, error) {
	full := append([]string{"--net=/run/netns/" + n.ns, harness.Binary(n.t)}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}

func (n *node) mustSkiff(args ...string) string {
	n.t.Helper()
	out, err := n.skiff(args...)
	if err != nil {
		n.t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// containerdImages lists the images the node's containerd holds for pods.
func (n *node) containerdImages() string {
	sock := filepath.Join(n.dataDir, "agent", "containerd", "containerd.sock")
	out, err := exec.Command("ctr", "--address", sock, "--namespace", images.CRINamespace, "images", "ls", "-q").CombinedOutput()
	if err != nil {
		n.t.Fatalf("ctr images ls: %v\n%s", err, out)
	}
	return string(out)
}

// pushOptions are crane's options to reach the node's registry as the
// kubeconfig's admin, dialling inside the node's namespace.
func (n *node) pushOptions() (string, []crane.Option) {
	n.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(n.dataDir, "kubeconfig.yaml"))
	if err != nil {
		n.t.Fatal(err)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, DialContext: netns.Dialer{Path: "/run/netns/" + n.ns}.DialContext}
	return strings.TrimPrefix(cfg.Host, "https://"), []crane.Option{crane.WithTransport(tr)}
}

// watchWaiting watches pod until its container has waited for every one of
// reasons, and returns the message of each.
func (n *node) watchWaiting(pod string, d time.Duration, reasons ...string) map[string]string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+n.ns, harness.Binary(n.t), "kubectl",
		"--kubeconfig", filepath.Join(n.dataDir, "kubeconfig.yaml"), "get", "pod", pod, "--watch", "--output-watch-events",
		"-o", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	seen := map[string]string{}
	dec := json.NewDecoder(out)
	for {
		var ev struct {
			Object struct {
				Status struct {
					ContainerStatuses []struct {
						State struct {
							Waiting *struct{ Reason, Message string }
						}
					}
				}
			}
		}
		if err := dec.Decode(&ev); err != nil {
			n.t.Fatalf("watching %s: saw %v, want every one of %v (%v)", pod, seen, reasons, err)
		}
		for _, c := range ev.Object.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				seen[w.Reason] = w.Message
			}
		}
		all := true
		for _, r := range reasons {
			all = all && seen[r] != ""
		}
		if all {
			return seen
		}
	}
}

func (n *node) waitRunning(pod string, d time.Duration) {
	n.t.Helper()
	n.eventually(pod+" Running", d, func() (bool, string) {
		out, _ := n.kubectl("get", "pod", pod, "--no-headers")
		return strings.Contains(out, "1/1") && strings.Contains(out, "Running"), out
	})
}

// TestImagesThroughTheClusterRegistry: the seed's image arrives by `skiff
// image import` into the cluster registry (not into the node's containerd),
// and `kubectl run kubia` with pull policy Always pulls it through the
// mirror; an image pushed with crane runs too; an image nobody has ends in
// ErrImagePull, then ImagePullBackOff, naming the reference.
func TestImagesThroughTheClusterRegistry(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	kc := filepath.Join(n.dataDir, "kubeconfig.yaml")
	demo := filepath.Join(n.dataDir, "agent", "images", "kubia.tar")

	// The air-gap folder went into the registry at start; remove it there
	// and import it again the way a user does.
	if out := n.mustSkiff("image", "ls", "--kubeconfig", kc); !strings.Contains(out, "docker.io/luksa/kubia:latest") {
		t.Fatalf("the air-gap folder's image is not in the registry:\n%s", out)
	}
	if out := n.mustSkiff("image", "rm", "--kubeconfig", kc, "luksa/kubia"); !strings.Contains(out, "removed docker.io/luksa/kubia:latest") {
		t.Fatalf("skiff image rm: %s", out)
	}
	if out := n.mustSkiff("image", "ls", "--kubeconfig", kc); strings.Contains(out, "luksa/kubia") {
		t.Fatalf("luksa/kubia still listed after rm:\n%s", out)
	}
	if out := n.mustSkiff("image", "import", "--kubeconfig", kc, demo); !strings.Contains(out, "imported docker.io/luksa/kubia:latest") {
		t.Fatalf("skiff image import: %s", out)
	}
	if imgs := n.containerdImages(); strings.Contains(imgs, "luksa/kubia") {
		t.Fatalf("the node's containerd already holds the demo image, so no pull would be proven:\n%s", imgs)
	}

	n.mustKubectl("run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1")
	var pod string
	n.eventually("kubia pod Running", 90*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "pods", "-l", "run=kubia", "--no-headers")
		f := strings.Fields(out)
		if len(f) > 2 && f[1] == "1/1" && f[2] == "Running" {
			pod = f[0]
			return true, out
		}
		return false, out
	})
	if p := n.mustKubectl("get", "pod", pod, "-o", "jsonpath={.spec.containers[0].imagePullPolicy}"); p != "Always" {
		t.Fatalf("imagePullPolicy %q, want Always", p)
	}
	events := n.mustKubectl("get", "events", "--field-selector", "involvedObject.name="+pod)
	if !strings.Contains(events, `Successfully pulled image "luksa/kubia"`) || strings.Contains(events, "copy already on the node") {
		t.Fatalf("the image was not pulled through the mirror; events:\n%s", events)
	}
	if imgs := n.containerdImages(); !strings.Contains(imgs, "docker.io/luksa/kubia:latest") {
		t.Fatalf("after the pull the node's containerd lacks the image:\n%s", imgs)
	}

	// A second image, pushed with crane as the kubeconfig's admin: the demo
	// with one more layer (so a digest of its own).
	host, opts := n.pushOptions()
	base, err := tarball.ImageFromPath(demo, nil)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	hello, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(hello, host+"/e2e/hello:v1", opts...); err != nil {
		t.Fatalf("crane push: %v", err)
	}
	n.mustKubectl("run", "hello", "--image=e2e/hello:v1", "--restart=Never")
	n.waitRunning("hello", 60*time.Second)
	if imgs := n.containerdImages(); !strings.Contains(imgs, "docker.io/e2e/hello:v1") {
		t.Fatalf("the node's containerd lacks the pushed image:\n%s", imgs)
	}

	// Nobody has this one: not the mirror, and its registry is unreachable.
	const missing = "registry.skiff.invalid/nobody/nothing:v1"
	n.mustKubectl("run", "nothing", "--image="+missing, "--restart=Never")
	// ErrImagePull lasts until the back-off starts: watch, a poll misses it.
	seen := n.watchWaiting("nothing", 60*time.Second, "ErrImagePull", "ImagePullBackOff")
	for reason, msg := range seen {
		if (reason == "ErrImagePull" || reason == "ImagePullBackOff") && !strings.Contains(msg, missing) {
			t.Errorf("%s message does not name the reference: %q", reason, msg)
		}
	}
}

// BenchmarkPullFromMirror: from pod create to Running when the node must
// pull a 50 MB image from the cluster registry, next to the same pod with
// the image already on the node (pull policy IfNotPresent) as the floor.
func BenchmarkPullFromMirror(b *testing.B) {
	requireRoot(b)
	n := startNode(b)
	host, opts := n.pushOptions()
	base, err := tarball.ImageFromPath(filepath.Join(n.dataDir, "agent", "images", "kubia.tar"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var pulled, present time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		layer, err := random.Layer(50<<20, types.DockerLayer)
		if err != nil {
			b.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, layer)
		if err != nil {
			b.Fatal(err)
		}
		ref := host + "/bench/big:" + time.Now().Format("150405.000000")
		if err := crane.Push(img, ref, opts...); err != nil {
			b.Fatal(err)
		}
		image := strings.TrimPrefix(ref, host+"/")
		b.StartTimer()
		pulled += n.timeToRunning(b, "pull", image, "Always")
		b.StopTimer()
		present += n.timeToRunning(b, "present", image, "IfNotPresent")
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(pulled.Seconds()/float64(b.N), "s-to-Running-pulling-50MB")
	b.ReportMetric(present.Seconds()/float64(b.N), "s-to-Running-image-present")
	b.ReportMetric(pulled.Seconds()/present.Seconds(), "pull/present-ratio")
}

// timeToRunning creates a pod of image with policy and times it to Running,
// then deletes it.
func (n *node) timeToRunning(b *testing.B, name, image, policy string) time.Duration {
	b.Helper()
	start := time.Now()
	n.mustKubectl("run", name, "--image="+image, "--restart=Never", "--image-pull-policy="+policy)
	n.waitRunning(name, 120*time.Second)
	d := time.Since(start)
	n.mustKubectl("delete", "pod", name, "--grace-period=1", "--wait=true")
	return d
}
