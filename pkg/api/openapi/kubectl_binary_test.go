package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests drive the real kubectl binaries (kubectl.1.NN beside kubectl on
// PATH, as test/harness finds them) against the documents, behind a stand-in
// API server that serves discovery and records writes. They show what a user
// sees from explain, and that create and apply trust server-side validation.

var kubectlVersioned = regexp.MustCompile(`^kubectl\.(1\.\d+)$`)

func kubectls(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs kubectl binaries")
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	want := os.Getenv("SKIFF_KUBECTLS")
	out := map[string]string{}
	for _, e := range entries {
		m := kubectlVersioned.FindStringSubmatch(e.Name())
		if m != nil && (want == "" || slices.Contains(strings.Split(want, ","), m[1])) {
			out[m[1]] = filepath.Join(filepath.Dir(path), e.Name())
		}
	}
	if len(out) == 0 {
		out["default"] = path
	}
	return out
}

// standIn serves the OpenAPI documents, discovery for the kinds, and records
// every other request; GETs of objects answer from objects, else 404.
type standIn struct {
	docs  *Documents
	kinds []Kind

	mu       sync.Mutex
	requests []recorded
	objects  map[string][]byte
}

type recorded struct {
	method, path, query, contentType string
	body                             []byte
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/openapi/") {
		s.docs.Handler().ServeHTTP(w, r)
		return
	}
	if disc, ok := s.discovery(r.URL.Path); ok {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(disc)
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body})
	obj, found := s.objects[r.URL.Path]
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && found:
		w.Header().Set("Content-Type", "application/json")
		w.Write(obj)
	case r.Method == http.MethodGet:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, r.URL.Path+" not found")
	case r.Method == http.MethodPost:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case r.Method == http.MethodPatch:
		w.Header().Set("Content-Type", "application/json")
		w.Write(obj)
	default:
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method)
	}
}

func (s *standIn) discovery(path string) (any, bool) {
	switch path {
	case "/api":
		return &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}}, true
	case "/apis":
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, k := range s.kinds {
			if k.GVK.Group == "" || slices.ContainsFunc(list.Groups, func(g metav1.APIGroup) bool { return g.Name == k.GVK.Group }) {
				continue
			}
			gv := metav1.GroupVersionForDiscovery{GroupVersion: k.GVK.GroupVersion().String(), Version: k.GVK.Version}
			list.Groups = append(list.Groups, metav1.APIGroup{Name: k.GVK.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
		}
		return list, true
	}
	var list *metav1.APIResourceList
	for _, k := range s.kinds {
		if "/"+groupVersionPath(k.GVK.Group, k.GVK.Version) != path {
			continue
		}
		if list == nil {
			list = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: k.GVK.GroupVersion().String()}
		}
		verbs := k.Verbs
		if len(verbs) == 0 {
			verbs = allVerbs
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{Name: k.Resource, Namespaced: k.Namespaced, Kind: k.GVK.Kind, Verbs: verbs})
	}
	return list, list != nil
}

func (s *standIn) writes() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorded
	for _, r := range s.requests {
		if r.method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func runKubectl(t *testing.T, bin, server, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "config")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q}}]\n"+
		"contexts: [{name: c, context: {cluster: c, namespace: default}}]\ncurrent-context: c\nusers: []\n", server)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func wantLines(t *testing.T, what, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("%s: output lacks %q:\n%s", what, l, out)
		}
	}
}

func TestKubectlExplain(t *testing.T) {
	bins := kubectls(t)
	srv := httptest.NewServer(&standIn{docs: testDocs(t), kinds: testKinds()})
	defer srv.Close()
	for version, bin := range bins {
		t.Run(version, func(t *testing.T) {
			out := runKubectl(t, bin, srv.URL, "", "explain", "pods.spec.containers.ports")
			wantLines(t, "explain pods.spec.containers.ports", out,
				"KIND:       Pod\n", "VERSION:    v1\n", "FIELD: ports <[]ContainerPort>",
				"containerPort\t<integer> -required-\n", "    Number of port to expose on the pod's IP address.")
			out = runKubectl(t, bin, srv.URL, "", "explain", "deployments.spec.strategy.rollingUpdate")
			wantLines(t, "explain deployments.spec.strategy.rollingUpdate", out,
				"GROUP:      apps\n", "KIND:       Deployment\n", "maxSurge\t<IntOrString>\n")
			out = runKubectl(t, bin, srv.URL, "", "explain", "leases.spec")
			wantLines(t, "explain leases.spec", out, "GROUP:      coordination.k8s.io\n", "holderIdentity\t<string>\n",
				"renewTime\t<string>\n")
			out = runKubectl(t, bin, srv.URL, "", "explain", "pods.spec.containers.resources", "--output=plaintext-openapiv2")
			wantLines(t, "explain --output=plaintext-openapiv2", out,
				"KIND:     Pod\n", "RESOURCE: resources <Object>\n", "limits\t<map[string]string>\n")
		})
	}
}

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: a
    image: a:%s
  - name: b
    image: b:1
`

// TestKubectlTrustsServerValidation: with fieldValidation on the PATCH
// operation in v3, create and apply send fieldValidation=Strict and skip
// client-side validation; apply's strategic merge patch merges containers by name.
func TestKubectlTrustsServerValidation(t *testing.T) {
	bins := kubectls(t)
	for version, bin := range bins {
		t.Run(version, func(t *testing.T) {
			api := &standIn{docs: testDocs(t), kinds: testKinds(), objects: map[string][]byte{}}
			srv := httptest.NewServer(api)
			defer srv.Close()

			out := runKubectl(t, bin, srv.URL, fmt.Sprintf(podYAML, "1"), "create", "-f", "-")
			wantLines(t, "create", out, "pod/web created")
			writes := api.writes()
			if len(writes) != 1 || writes[0].method != http.MethodPost || !strings.Contains(writes[0].query, "fieldValidation=Strict") {
				t.Fatalf("create sent %+v, want one POST with fieldValidation=Strict", writes)
			}

			// The pod now exists as last applied with a:1; apply a:2.
			var live map[string]any
			json.Unmarshal(writes[0].body, &live)
			last, _ := json.Marshal(live)
			live["metadata"].(map[string]any)["annotations"] = map[string]any{
				"kubectl.kubernetes.io/last-applied-configuration": string(last),
			}
			obj, _ := json.Marshal(live)
			api.mu.Lock()
			api.objects["/api/v1/namespaces/default/pods/web"] = obj
			api.requests = nil
			api.mu.Unlock()

			out = runKubectl(t, bin, srv.URL, fmt.Sprintf(podYAML, "2"), "apply", "-f", "-")
			wantLines(t, "apply", out, "pod/web configured")
			writes = api.writes()
			if len(writes) != 1 || writes[0].method != http.MethodPatch ||
				writes[0].contentType != "application/strategic-merge-patch+json" ||
				!strings.Contains(writes[0].query, "fieldValidation=Strict") {
				t.Fatalf("apply sent %+v, want one strategic merge PATCH with fieldValidation=Strict", writes)
			}
			wantLines(t, "apply patch", string(writes[0].body),
				`"$setElementOrder/containers":[{"name":"a"},{"name":"b"}]`, `"containers":[{"image":"a:2","name":"a"}]`)
		})
	}
}
