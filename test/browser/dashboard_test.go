package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/dashboard"
	"github.com/skiffhq/skiff/test/harness"
)

// The seed's app, as `kubectl run kubia --image=luksa/kubia --port=8080
// --generator=run/v1` made it.
const kubiaRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia
  labels: {run: kubia}
spec:
  replicas: 1
  selector: {run: kubia}
  template:
    metadata:
      labels: {run: kubia}
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
        ports: [{containerPort: 8080}]
`

// kubiaRows counts the pod rows of the seed's RC that are Running.
const kubiaRunning = `[...document.querySelectorAll('[data-row][data-name^="kubia-"]')].filter(r => r.querySelector('[data-field="status"]')?.textContent.trim() === 'Running')`

// TestDashboardSeed walks the seed's chapter in the dashboard: open the URL
// `kubectl cluster-info` prints through `kubectl proxy`, see the kubia pod,
// scale the RC to 3 from the page, delete a pod and see the RC replace it,
// and try an edit the API refuses.
func TestDashboardSeed(t *testing.T) {
	b := Start(t, "seed")
	c := harness.StartCluster(t, harness.Options{HollowNodes: 3})
	k := Newest(t)
	c.MustRun(t, k, kubiaRC, "create", "-f", "-")
	url := DashboardURL(t, c, k, KubectlProxy(t, c, k))

	b.Open(url)
	b.Screenshot("overview")
	b.Run("open the pods", 10*time.Second, chromedp.Click(chromedp.CSS(`a[data-nav="pods"]`)))
	b.Wait("the kubia pod Running", kubiaRunning+`.length === 1`, 30*time.Second)
	b.Screenshot("the kubia pod")

	b.Run("open the RC", 10*time.Second, chromedp.Click(chromedp.CSS(`a[data-nav="replicationcontrollers"]`)))
	b.Run("open kubia", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`[data-row][data-name="kubia"]`)),
		chromedp.Click(chromedp.CSS(`[data-row][data-name="kubia"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-name="kubia"]`)))
	b.Run("scale to 3", 10*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-action="scale"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#replicas`)),
		chromedp.SetValue(chromedp.CSS(`#replicas`), "3"),
		chromedp.Click(chromedp.CSS(`button[data-action="scale-apply"]`)))
	rc, err := waitReplicas(c, 3)
	if err != nil {
		b.Screenshot("scale refused")
		t.Fatalf("the RC after scaling to 3 in the page: %v", err)
	}
	t.Logf("the page scaled the RC to %d", rc)
	b.Run("back to the pods", 10*time.Second, chromedp.Click(chromedp.CSS(`a[data-nav="pods"]`)))
	b.Wait("three kubia pods Running", kubiaRunning+`.length === 3`, 30*time.Second)
	b.Screenshot("three kubia pods")

	victim := Eval[string](b, "a pod to delete", kubiaRunning+`[0].dataset.name`)
	b.Run("open "+victim, 10*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-row][data-name=%q]`, victim))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail[data-name=%q]`, victim))))
	b.Screenshot("a pod's details")
	b.Run("delete "+victim, 10*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-action="delete"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-action="confirm-delete"]`)),
		chromedp.Click(chromedp.CSS(`button[data-action="confirm-delete"]`)))
	b.Run("close the details", 10*time.Second, chromedp.Click(chromedp.CSS(`a[data-nav="pods"]`)))
	b.Wait("the RC replaces "+victim, kubiaRunning+fmt.Sprintf(`.length === 3 && !document.querySelector('[data-row][data-name=%q]')`, victim), 30*time.Second)
	b.Screenshot("the RC replaced the deleted pod")

	// An edit the API refuses: its message in the page, nothing changed.
	b.Run("open the RC again", 10*time.Second,
		chromedp.Click(chromedp.CSS(`a[data-nav="replicationcontrollers"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-row][data-name="kubia"]`)),
		chromedp.Click(chromedp.CSS(`[data-row][data-name="kubia"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-name="kubia"]`)),
		chromedp.Click(chromedp.CSS(`button[data-action="edit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#yaml-editor`)))
	b.Wait("the YAML in the editor", `document.querySelector('#yaml-editor').value.includes('replicas: 3')`, 10*time.Second)
	Eval[bool](b, "a negative replica count", `(() => { const e = document.querySelector('#yaml-editor'); e.value = e.value.replace(/\n  replicas: 3\n/, '\n  replicas: -1\n'); e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	b.Run("save", 10*time.Second, chromedp.Click(chromedp.CSS(`button[data-action="save"]`)))
	b.Wait("the API's message", `(document.querySelector('#edit-error')?.textContent || '').includes('must be greater than or equal to 0')`, 10*time.Second)
	if !Eval[bool](b, "the message at the field", `[...document.querySelectorAll('.field-error')].some(e => e.textContent.includes('greater than or equal to 0'))`) {
		t.Error("the refused edit's message is not shown at spec.replicas")
	}
	b.Screenshot("a refused edit")
	got, err := c.Client.CoreV1().ReplicationControllers("default").Get(context.Background(), "kubia", metav1.GetOptions{})
	if err != nil || *got.Spec.Replicas != 3 {
		t.Errorf("the RC after a refused edit: %v, replicas %v, want 3", err, got.Spec.Replicas)
	}
}

// TestDashboardWithoutRights: a user the API refuses sees explained, empty
// pages. Skiff's only such users before RBAC are nodes, which may not open
// the dashboard through the service proxy at all; the dashboard is mounted
// here as the API server mounts it, for a node.
func TestDashboardWithoutRights(t *testing.T) {
	b := Start(t, "without-rights")
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	h := dashboard.New(c.Server.API)
	node := apiserver.User{Name: "system:node:node-1", Groups: []string{"system:nodes", "system:authenticated"}}
	srv := httptest.NewServer(http.StripPrefix("/dash", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(apiserver.WithUser(r.Context(), node)))
	})))
	t.Cleanup(srv.Close)
	b.Open(srv.URL + "/dash/#/pods")
	b.Wait("an explanation", `!!document.querySelector('.empty-state') && document.querySelector('.empty-state').textContent.includes('system:node:node-1')`, 20*time.Second)
	text := Eval[string](b, "the explanation", `document.querySelector('.empty-state').textContent`)
	if !strings.Contains(text, "pods") {
		t.Errorf("the explanation does not say what was refused: %q", text)
	}
	if strings.Contains(text, `"kind":"Status"`) || strings.Contains(text, "{") {
		t.Errorf("the page dumps the error: %q", text)
	}
	b.Screenshot("no rights")
}

// waitReplicas waits until the RC kubia asks for n replicas.
func waitReplicas(c *harness.Cluster, n int32) (int32, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc, err := c.Client.CoreV1().ReplicationControllers("default").Get(context.Background(), "kubia", metav1.GetOptions{})
		if err == nil && *rc.Spec.Replicas == n {
			return n, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("replicas %d", *rc.Spec.Replicas)
			}
			return 0, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
