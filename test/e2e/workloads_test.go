package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiffhq/skiff/pkg/images"
)

// kubiaDeployment is the seed's app as a Deployment that rolls without
// dropping a request: a readiness probe, one pod surged at a time and none
// taken away before its replacement is ready, and a few seconds of serving
// after SIGTERM while the Service forgets the pod (as real apps drain).
const kubiaDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  minReadySeconds: 1
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: kubia
        image: luksa/kubia:latest
        imagePullPolicy: IfNotPresent
        env:
        - name: KUBIA_TERM_DELAY
          value: 3s
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet:
            path: /ready
            port: 8080
          periodSeconds: 1
`

// pushShellImage pushes busybox (Debian's static build) as the only program
// of docker.io/library/busybox:latest, so Jobs can run `sh -c`.
func (n *node) pushShellImage() {
	n.t.Helper()
	const busybox = "/bin/busybox"
	f, err := elf.Open(busybox)
	if err != nil {
		n.t.Skipf("needs a static busybox (apt-get install busybox-static): %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			n.t.Skipf("%s is dynamically linked: apt-get install busybox-static", busybox)
		}
	}
	f.Close()
	data, err := os.ReadFile(busybox)
	if err != nil {
		n.t.Fatal(err)
	}
	img, err := images.Build(images.Spec{Files: []images.File{{Path: "/bin/sh", Mode: 0o755, Data: data}}, Dirs: []string{"tmp"}})
	if err != nil {
		n.t.Fatal(err)
	}
	host, opts := n.pushOptions()
	if err := crane.Push(img, host+"/library/busybox:latest", opts...); err != nil {
		n.t.Fatalf("crane push busybox: %v", err)
	}
}

// TestWorkloadsOnARealNode: on a real node, a Deployment of the seed's image
// behind a LoadBalancer Service rolls to a second tag while a client keeps
// requesting through the Service, and no request fails; then a Job running
// `sh -c 'exit 0'` completes.
func TestWorkloadsOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)

	// The second tag: the same program under luksa/kubia:v2.
	demo, err := tarball.ImageFromPath(filepath.Join(n.dataDir, "agent", "images", "kubia.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	host, opts := n.pushOptions()
	if err := crane.Push(demo, host+"/luksa/kubia:v2", opts...); err != nil {
		t.Fatalf("crane push kubia:v2: %v", err)
	}

	manifest := filepath.Join(n.dataDir, "kubia-deployment.yaml")
	if err := os.WriteFile(manifest, []byte(kubiaDeployment), 0o644); err != nil {
		t.Fatal(err)
	}
	n.mustKubectl("apply", "-f", manifest)
	n.mustKubectl("expose", "deployment", "kubia", "--type=LoadBalancer", "--name", "kubia-http", "--port=8080")
	if out := n.mustKubectl("rollout", "status", "deployment/kubia", "--timeout=120s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	var ip string
	n.eventually("EXTERNAL-IP assigned", 30*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "svc", "kubia-http", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		ip = strings.TrimSpace(out)
		return ip != "", out
	})
	url := ip + ":8080"
	n.eventually("the Service answers", 60*time.Second, func() (bool, string) {
		out, err := n.inNS("curl", "-s", "--max-time", "3", url)
		return err == nil && strings.HasPrefix(out, "You've hit kubia-"), fmt.Sprint(out, err)
	})

	// A client requesting through the Service for the whole rollout.
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := n.inNS("curl", "-s", "--max-time", "3", url)
			if err == nil && strings.HasPrefix(out, "You've hit kubia-") {
				ok.Add(1)
				continue
			}
			failed.Add(1)
			firstFailure.CompareAndSwap(nil, fmt.Sprintf("%q %v at %s", out, err, time.Now().Format(time.StampMilli)))
		}
	}()
	old := n.mustKubectl("get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].metadata.name}")
	n.mustKubectl("set", "image", "deployment/kubia", "kubia=luksa/kubia:v2")
	out, err := n.kubectl("rollout", "status", "deployment/kubia", "--timeout=180s")
	// A last second of requests after the rollout, once the old pods are gone.
	n.eventually("old pods gone", 60*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].metadata.name}")
		for _, p := range strings.Fields(old) {
			if strings.Contains(out, p) {
				return false, out
			}
		}
		return true, out
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after set image: %s %v\nserver log tail:\n%s", out, err, tail(n.log(), 30))
	}
	t.Logf("requests through the Service during the rollout: %d answered, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed during the rollout; first: %v", failed.Load(), ok.Load()+failed.Load(), firstFailure.Load())
	}
	if ok.Load() < 20 {
		t.Fatalf("only %d requests during the rollout: the client did not really run", ok.Load())
	}
	running := n.mustKubectl("get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].spec.containers[0].image}")
	if f := strings.Fields(running); len(f) != 3 || strings.Count(running, "luksa/kubia:v2") != 3 {
		t.Fatalf("after the rollout the pods run %q, want 3 of luksa/kubia:v2", running)
	}
	// The API server's proxy reaches a pod and the Service (kubectl get --raw).
	pod := strings.Fields(n.mustKubectl("get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].metadata.name}"))[0]
	if out := n.mustKubectl("get", "--raw", "/api/v1/namespaces/default/pods/"+pod+":8080/proxy/"); strings.TrimSpace(out) != "You've hit "+pod {
		t.Fatalf("pods/proxy answered %q, want You've hit %s", out, pod)
	}
	if out := n.mustKubectl("get", "--raw", "/api/v1/namespaces/default/services/http:kubia-http:8080/proxy/"); !strings.HasPrefix(out, "You've hit kubia-") {
		t.Fatalf("services/proxy answered %q", out)
	}
	if hist := n.mustKubectl("rollout", "history", "deployment/kubia"); !strings.Contains(hist, "1 ") || !strings.Contains(hist, "2 ") {
		t.Fatalf("rollout history lists no two revisions:\n%s", hist)
	}

	// A Job on the real node: its container exits 0, the Job completes.
	n.pushShellImage()
	n.mustKubectl("create", "job", "ok", "--image=busybox", "--", "sh", "-c", "exit 0")
	if out, err := n.kubectl("wait", "--for=condition=complete", "job/ok", "--timeout=90s"); err != nil {
		pods, _ := n.kubectl("get", "pods", "-l", "job-name=ok", "-o", "wide")
		t.Fatalf("job ok did not complete: %s %v\npods:\n%s\nserver log tail:\n%s", out, err, pods, tail(n.log(), 30))
	}
	if st := n.mustKubectl("get", "job", "ok", "-o", "jsonpath={.status.succeeded}/{.status.failed}"); st != "1/" && st != "1/0" {
		t.Fatalf("job ok status succeeded/failed = %q, want 1 and none", st)
	}
}
