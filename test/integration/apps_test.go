package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// appsWorkloadsYAML is one of each workload kubectl create has no generator
// for: a ReplicaSet, a DaemonSet and a StatefulSet with a claim template.
const appsWorkloadsYAML = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: front
spec:
  replicas: 2
  selector:
    matchLabels:
      tier: front
  template:
    metadata:
      labels:
        tier: front
    spec:
      containers:
      - name: php
        image: php:8
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      nodeSelector:
        kubernetes.io/os: linux
      containers:
      - name: agent
        image: busybox:1.36
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: postgres
        image: postgres:16
        volumeMounts:
        - name: data
          mountPath: /var/lib/postgresql
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
`

// deploymentYAML is a Deployment named name whose spec ends with extra
// (indented under spec), for the manifests the API must refuse.
func deploymentYAML(name, templateApp, extra string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: ` + templateApp + `
    spec:
      containers:
      - name: nginx
        image: nginx
` + extra
}

// TestAppsWithKubectl serves apps/v1 to every kubectl: discovery with short
// names and the `all` category, explain, the everyday commands on a
// Deployment (create with upstream's defaults, get, -o wide, describe, scale
// through the scale subresource, set image, delete), tables for every
// workload, generation as upstream's strategies move it, and the invalid
// input of issue 15 refused in upstream's words with nothing stored. No
// controller runs: only the API is under test.
func TestAppsWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			ns := "apps-" + strings.ReplaceAll(k.Version, ".", "-")
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", append(args, "-n", ns)...) }
			fail := func(args ...string) string {
				t.Helper()
				out, errOut, err := c.Run(k, "", append(args, "-n", ns)...)
				if err == nil {
					t.Fatalf("kubectl %s should fail; stdout:\n%s", strings.Join(args, " "), out)
				}
				return errOut
			}
			jsonpath := func(resource, path string) string {
				t.Helper()
				return run("get", resource, "-o", "jsonpath={"+path+"}")
			}
			run("create", "namespace", ns)

			resources := c.MustRun(t, k, "", "api-resources", "--api-group=apps")
			for _, want := range [][]string{
				{"controllerrevisions", "apps/v1", "true", "ControllerRevision"},
				{"daemonsets", "ds", "apps/v1", "true", "DaemonSet"},
				{"deployments", "deploy", "apps/v1", "true", "Deployment"},
				{"replicasets", "rs", "apps/v1", "true", "ReplicaSet"},
				{"statefulsets", "sts", "apps/v1", "true", "StatefulSet"},
			} {
				if !hasLine(resources, want...) {
					t.Fatalf("api-resources lacks %q:\n%s", want, resources)
				}
			}
			mustContain(t, "explain deployment.spec.strategy", c.MustRun(t, k, "", "explain", "deployment.spec.strategy"),
				"Deployment", "apps", "DeploymentStrategy", "rollingUpdate", "type", "existing pods with new ones")
			mustContain(t, "explain statefulset.spec", c.MustRun(t, k, "", "explain", "sts.spec"),
				"StatefulSet", "volumeClaimTemplates", "podManagementPolicy")

			mustContain(t, "create deployment", run("create", "deployment", "web", "--image=nginx", "--replicas=3", "--port=80"),
				"deployment.apps/web created")
			var d appsv1.Deployment
			if err := json.Unmarshal([]byte(run("get", "deploy", "web", "-o", "json")), &d); err != nil {
				t.Fatal(err)
			}
			expectDeploymentDefaults(t, &d)

			mustContain(t, "create workloads", run("create", "-f", writeFile(t, "apps.yaml", appsWorkloadsYAML)),
				"replicaset.apps/front created", "daemonset.apps/agent created", "statefulset.apps/db created")
			// Upstream's columns for each kind; kubectl names each row by its
			// kind when several kinds are asked for.
			out := run("get", "deploy,rs,ds,sts")
			for _, want := range [][]string{
				{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"},
				{"deployment.apps/web", "0/3", "0", "0"},
				{"NAME", "DESIRED", "CURRENT", "READY", "AGE"},
				{"replicaset.apps/front", "2", "0", "0"},
				{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"},
				{"daemonset.apps/agent", "0", "0", "0", "0", "0", "kubernetes.io/os=linux"},
				{"NAME", "READY", "AGE"},
				{"statefulset.apps/db", "0/1"},
			} {
				if !hasLineStarting(out, want...) {
					t.Fatalf("kubectl get deploy,rs,ds,sts lacks %q:\n%s", want, out)
				}
			}
			for _, tc := range []struct {
				resource string
				header   []string
				row      []string // without AGE, which comes before the -o wide columns
				wide     []string
			}{
				{"deploy", []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
					[]string{"web", "0/3", "0", "0"}, []string{"nginx", "nginx", "app=web"}},
				{"rs", []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
					[]string{"front", "2", "0", "0"}, []string{"php", "php:8", "tier=front"}},
				{"ds", []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
					[]string{"agent", "0", "0", "0", "0", "0", "kubernetes.io/os=linux"}, []string{"agent", "busybox:1.36", "app=agent"}},
				{"sts", []string{"NAME", "READY", "AGE", "CONTAINERS", "IMAGES"},
					[]string{"db", "0/1"}, []string{"postgres", "postgres:16"}},
			} {
				out := run("get", tc.resource, "-o", "wide")
				if !hasLine(out, tc.header...) || !hasRowAroundAge(out, tc.row, tc.wide) {
					t.Fatalf("kubectl get %s -o wide: want %q and %q, AGE, %q:\n%s", tc.resource, tc.header, tc.row, tc.wide, out)
				}
			}
			// The four workloads are in `all`; controller revisions are not.
			mustContain(t, "get all", run("get", "all"),
				"deployment.apps/web", "replicaset.apps/front", "daemonset.apps/agent", "statefulset.apps/db")

			// Scaling goes through the scale subresource, as autoscaling/v1
			// Scale with the selector as a string; it changes the spec, so it
			// moves the generation.
			mustContain(t, "scale", run("scale", "deploy", "web", "--replicas=5"), "deployment.apps/web scaled")
			var sc struct {
				Kind, APIVersion string
				Spec             struct{ Replicas int32 }
				Status           struct{ Selector string }
			}
			raw := c.MustRun(t, k, "", "get", "--raw", "/apis/apps/v1/namespaces/"+ns+"/deployments/web/scale")
			if err := json.Unmarshal([]byte(raw), &sc); err != nil || sc.Kind != "Scale" || sc.APIVersion != "autoscaling/v1" ||
				sc.Spec.Replicas != 5 || sc.Status.Selector != "app=web" {
				t.Fatalf("deployments/web/scale = %s (%v)", raw, err)
			}
			if r, g := jsonpath("deploy/web", ".spec.replicas"), jsonpath("deploy/web", ".metadata.generation"); r != "5" || g != "2" {
				t.Fatalf("after scale: replicas %s generation %s, want 5 and 2", r, g)
			}
			mustContain(t, "scale rs", run("scale", "rs", "front", "--replicas=4"), "replicaset.apps/front scaled")
			mustContain(t, "scale sts", run("scale", "sts", "db", "--replicas=3"), "statefulset.apps/db scaled")
			if r := jsonpath("rs/front", ".spec.replicas") + jsonpath("sts/db", ".spec.replicas"); r != "43" {
				t.Fatalf("scaled replicas of rs and sts: %s, want 4 and 3", r)
			}

			mustContain(t, "set image", run("set", "image", "deploy/web", "nginx=nginx:2"), "deployment.apps/web image updated")
			if img, g := jsonpath("deploy/web", ".spec.template.spec.containers[0].image"), jsonpath("deploy/web", ".metadata.generation"); img != "nginx:2" || g != "3" {
				t.Fatalf("after set image: image %s generation %s, want nginx:2 and 3", img, g)
			}
			// Labels are not desired state; a Deployment's annotations are
			// (it copies them to its ReplicaSets).
			run("label", "deploy", "web", "team=a")
			if g := jsonpath("deploy/web", ".metadata.generation"); g != "3" {
				t.Fatalf("generation after label = %s, want 3", g)
			}
			run("annotate", "deploy", "web", "owner=ops")
			if g := jsonpath("deploy/web", ".metadata.generation"); g != "4" {
				t.Fatalf("generation after annotate = %s, want 4", g)
			}
			mustContain(t, "describe deploy", run("describe", "deploy", "web"),
				"Replicas:", "5 desired | 0 updated | 0 total | 0 available | 0 unavailable",
				"StrategyType:", "RollingUpdate", "RollingUpdateStrategy:", "25% max unavailable, 25% max surge",
				"Image:", "nginx:2", "Port:", "80/TCP")

			// A DaemonSet counts its template changes in an annotation.
			tg := func() string {
				return jsonpath("ds/agent", `.metadata.annotations.deprecated\.daemonset\.template\.generation`)
			}
			if g := tg(); g != "1" {
				t.Fatalf("template generation of a new daemon set = %q, want 1", g)
			}
			run("set", "image", "ds/agent", "agent=busybox:1.37")
			if g, gen := tg(), jsonpath("ds/agent", ".metadata.generation"); g != "2" || gen != "2" {
				t.Fatalf("after set image: template generation %q, generation %q; want 2 and 2", g, gen)
			}

			// Invalid input is refused in upstream's words, and nothing is stored.
			for _, tc := range []struct{ name, manifest, want string }{
				{"mismatch", deploymentYAML("mismatch", "other", ""),
					"The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"},
				{"negative", deploymentYAML("negative", "web", "  replicas: -1\n"),
					`The Deployment "negative" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`},
				{"stuck", deploymentYAML("stuck", "web", "  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0\n"),
					"The Deployment \"stuck\" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"},
			} {
				mustContain(t, "refused "+tc.name, fail("create", "-f", writeFile(t, tc.name+".yaml", tc.manifest)), tc.want)
				mustContain(t, "not stored "+tc.name, fail("get", "deploy", tc.name), `deployments.apps "`+tc.name+`" not found`)
			}
			mustContain(t, "selector change", fail("patch", "deploy", "web", "-p",
				`{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`),
				`The Deployment "web" is invalid: spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable`)
			mustContain(t, "service name change", fail("patch", "sts", "db", "-p", `{"spec":{"serviceName":"other"}}`),
				`The StatefulSet "db" is invalid: spec.serviceName: Invalid value: "other": field is immutable`)
			if sel, svc := jsonpath("deploy/web", ".spec.selector.matchLabels.app"), jsonpath("sts/db", ".spec.serviceName"); sel != "web" || svc != "db" {
				t.Fatalf("a refused update was stored: selector app=%s, serviceName %s", sel, svc)
			}

			// Client-side apply: create, then a strategic merge patch of the change.
			manifest := deploymentYAML("api", "web", "  replicas: 2\n")
			mustContain(t, "apply", run("apply", "-f", writeFile(t, "api.yaml", manifest)), "deployment.apps/api created")
			manifest = strings.Replace(manifest, "replicas: 2", "replicas: 4", 1)
			mustContain(t, "re-apply", run("apply", "-f", writeFile(t, "api.yaml", manifest)), "deployment.apps/api configured")
			if r, g := jsonpath("deploy/api", ".spec.replicas"), jsonpath("deploy/api", ".metadata.generation"); r != "4" || g != "2" {
				t.Fatalf("after apply: replicas %s generation %s, want 4 and 2", r, g)
			}

			mustContain(t, "delete", run("delete", "deploy", "web"), `deployment.apps "web" deleted`)
			mustContain(t, "deleted", fail("get", "deploy", "web"), `deployments.apps "web" not found`)
		})
	}
}

// expectDeploymentDefaults checks what `kubectl create deployment web
// --image=nginx --replicas=3 --port=80` stores: apps/v1's defaults and the
// pod template's.
func expectDeploymentDefaults(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ru := d.Spec.Strategy.RollingUpdate
	pct := intstr.FromString("25%")
	switch {
	case d.Generation != 1:
		t.Errorf("generation %d, want 1", d.Generation)
	case d.Spec.Replicas == nil || *d.Spec.Replicas != 3:
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	case d.Spec.Selector == nil || d.Spec.Selector.MatchLabels["app"] != "web":
		t.Errorf("selector %v, want app=web", d.Spec.Selector)
	case d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxSurge == nil || *ru.MaxSurge != pct || ru.MaxUnavailable == nil || *ru.MaxUnavailable != pct:
		t.Errorf("strategy %+v, want RollingUpdate 25%%/25%%", d.Spec.Strategy)
	case d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit != 10:
		t.Errorf("revisionHistoryLimit %v, want 10", d.Spec.RevisionHistoryLimit)
	case d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds != 600:
		t.Errorf("progressDeadlineSeconds %v, want 600", d.Spec.ProgressDeadlineSeconds)
	case d.Spec.MinReadySeconds != 0:
		t.Errorf("minReadySeconds %d, want 0", d.Spec.MinReadySeconds)
	}
	spec := d.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.DNSPolicy != corev1.DNSClusterFirst ||
		spec.SchedulerName != corev1.DefaultSchedulerName || spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("template's pod spec not defaulted: %+v", spec)
	}
	if len(spec.Containers) != 1 || spec.Containers[0].ImagePullPolicy != corev1.PullAlways ||
		len(spec.Containers[0].Ports) != 1 || spec.Containers[0].Ports[0] != (corev1.ContainerPort{ContainerPort: 80, Protocol: corev1.ProtocolTCP}) {
		t.Errorf("template's container not defaulted: %+v", spec.Containers)
	}
	if d.Status.Replicas != 0 || d.Status.ObservedGeneration != 0 {
		t.Errorf("status %+v, want empty: no controller runs", d.Status)
	}
}

// TestAppsInvalidIs422 checks the status a client gets for invalid apps/v1
// objects (422, reason Invalid, each cause at upstream's field path) and
// that nothing was stored, and which fields a list may select on.
func TestAppsInvalidIs422(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, tc := range []struct {
		resource, body string
		causes         []metav1.StatusCause
		message        string
	}{
		{"deployments", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad"},"spec":{"replicas":-2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.replicas", Message: "Invalid value: -2: must be greater than or equal to 0"},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.template.metadata.labels", Message: "Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"},
			},
			"Deployment.apps \"bad\" is invalid: [spec.replicas: Invalid value: -2: must be greater than or equal to 0, spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`]"},
		{"replicasets", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"bad"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			// As upstream, a missing selector also matches no template.
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.selector", Message: "Required value"},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.template.metadata.labels", Message: "Invalid value: null: `selector` does not match template `labels`"},
			}, ""},
		{"daemonsets", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"bad"},"spec":{"selector":{"matchLabels":{"app":"a"}},"updateStrategy":{"rollingUpdate":{"maxUnavailable":0}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			[]metav1.StatusCause{{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.updateStrategy.rollingUpdate.maxUnavailable", Message: "Required value: cannot be 0 when maxSurge is 0"}},
			`DaemonSet.apps "bad" is invalid: spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0`},
		{"statefulsets", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"Bad"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "metadata.name", Message: "Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"},
				{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.template.spec.restartPolicy", Message: "Unsupported value: \"Never\": supported values: \"Always\""},
			}, ""},
		{"controllerrevisions", `{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"bad"},"revision":-1,"data":[1]}`,
			[]metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "revision", Message: "Invalid value: -1: must be greater than or equal to 0"},
				{Type: metav1.CauseTypeFieldValueRequired, Field: "data", Message: "Required value: data must be a valid JSON object"},
			}, ""},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			path := "/apis/apps/v1/namespaces/default/" + tc.resource
			code, st := rawRequest(t, c, http.MethodPost, path, "application/json", []byte(tc.body))
			if code != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid || st.Details == nil {
				t.Fatalf("got %d %s (%s), want 422 Invalid", code, st.Reason, st.Message)
			}
			if !equalCauses(st.Details.Causes, tc.causes) {
				t.Fatalf("causes\n got: %+v\nwant: %+v", st.Details.Causes, tc.causes)
			}
			if tc.message != "" && st.Message != tc.message {
				t.Fatalf("message\n got: %s\nwant: %s", st.Message, tc.message)
			}
			if code, _ := rawRequest(t, c, http.MethodGet, path, "", nil); code != http.StatusOK {
				t.Fatalf("list %s: %d", tc.resource, code)
			}
			name := "bad"
			if tc.resource == "statefulsets" {
				name = "Bad"
			}
			if code, _ := rawRequest(t, c, http.MethodGet, path+"/"+name, "", nil); code != http.StatusNotFound {
				t.Fatalf("a refused %s was stored: GET gave %d", tc.resource, code)
			}
		})
	}

	// apps/v1 registers no field label conversions: a ReplicaSet list selects
	// on metadata.name and metadata.namespace only, as upstream's.
	ctx := context.Background()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs"}, Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rs"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rs"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}}}
	if _, err := c.Client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=rs"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("select by metadata.name: %v, %v", list, err)
	}
	_, err = c.Client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{FieldSelector: "status.replicas=0"})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("select by status.replicas: %v, want 400", err)
	}
}

// TestAppsStatusSubresource: writes to deployments/status change the status
// alone and are checked by upstream's status rules; writes to the deployment
// keep the status, need no resourceVersion (upstream's
// AllowUnconditionalUpdate), and move the generation only with the spec.
func TestAppsStatusSubresource(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	deployments := c.Client.AppsV1().Deployments("default")
	d, err := deployments.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(3)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
	}, Status: appsv1.DeploymentStatus{Replicas: 9}}, metav1.CreateOptions{})
	if err != nil || d.Generation != 1 || d.Status.Replicas != 0 {
		t.Fatalf("create: generation %d, status %+v, %v; want 1 and an empty status", d.Generation, d.Status, err)
	}

	d.Spec.Replicas = ptr.To(int32(7))             // not the status subresource's to change
	d.Labels = map[string]string{"changed": "yes"} // nor a Deployment's labels (upstream)
	d.Annotations = map[string]string{"note": "kept"}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}
	d, err = deployments.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil || *d.Spec.Replicas != 3 || d.Generation != 1 || d.Status.ReadyReplicas != 2 {
		t.Fatalf("status update: replicas %d, generation %d, status %+v, %v", *d.Spec.Replicas, d.Generation, d.Status, err)
	}
	if len(d.Labels) != 0 || d.Annotations["note"] != "kept" {
		t.Fatalf("status update: labels %v (want none: a status write keeps them), annotations %v (want the new one)", d.Labels, d.Annotations)
	}
	bad := d.DeepCopy()
	bad.Status.AvailableReplicas = 3
	_, err = deployments.UpdateStatus(ctx, bad, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `Deployment.apps "web" is invalid: status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas` {
		t.Fatalf("a status with more available than ready replicas: %v", err)
	}

	d.ResourceVersion = ""
	d.Status = appsv1.DeploymentStatus{}
	d.Spec.MinReadySeconds = 5
	d, err = deployments.Update(ctx, d, metav1.UpdateOptions{})
	if err != nil || d.Generation != 2 || d.Status.ReadyReplicas != 2 || d.Spec.MinReadySeconds != 5 {
		t.Fatalf("unconditional update: generation %d, status %+v, %v; want 2 and the status kept", d.Generation, d.Status, err)
	}
}

// equalCauses compares causes in order.
func equalCauses(got, want []metav1.StatusCause) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// hasLineStarting reports whether some line of out starts with these fields.
func hasLineStarting(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= len(fields) && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

// hasRowAroundAge reports whether some line of out is before, one AGE cell,
// then after.
func hasRowAroundAge(out string, before, after []string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == len(before)+1+len(after) &&
			strings.Join(f[:len(before)], " ") == strings.Join(before, " ") &&
			strings.Join(f[len(before)+1:], " ") == strings.Join(after, " ") {
			return true
		}
	}
	return false
}
