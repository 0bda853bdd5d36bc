package kubectl

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestRCForRun(t *testing.T) {
	rc := rcForRun(rcOptions{Name: "kubia", Image: "luksa/kubia", Replicas: 1, Port: 8080})
	got, err := yaml.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	// What kubectl 1.17 printed for
	// `kubectl run kubia --image=luksa/kubia --port=8080 --generator=run/v1 --dry-run -o yaml`.
	want := `apiVersion: v1
kind: ReplicationController
metadata:
  labels:
    run: kubia
  name: kubia
spec:
  replicas: 1
  selector:
    run: kubia
  template:
    metadata:
      labels:
        run: kubia
    spec:
      containers:
      - image: luksa/kubia
        name: kubia
        ports:
        - containerPort: 8080
        resources: {}
status:
  replicas: 0
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRCForRunOptions(t *testing.T) {
	env := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "x=y"}}
	tests := []struct {
		name  string
		opts  rcOptions
		check func(t *testing.T, rc *corev1.ReplicationController)
	}{
		{
			name: "replicas",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 3},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				if *rc.Spec.Replicas != 3 {
					t.Errorf("replicas = %d, want 3", *rc.Spec.Replicas)
				}
			},
		},
		{
			name: "zero replicas stays zero",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 0},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				if rc.Spec.Replicas == nil || *rc.Spec.Replicas != 0 {
					t.Errorf("replicas = %v, want 0", rc.Spec.Replicas)
				}
			},
		},
		{
			name: "no port",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 1},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				if ports := rc.Spec.Template.Spec.Containers[0].Ports; ports != nil {
					t.Errorf("ports = %v, want none", ports)
				}
			},
		},
		{
			name: "env",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 1, Env: env},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				if got := rc.Spec.Template.Spec.Containers[0].Env; !reflect.DeepEqual(got, env) {
					t.Errorf("env = %v, want %v", got, env)
				}
			},
		},
		{
			name: "labels replace run=NAME everywhere",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 1, Labels: map[string]string{"app": "web", "tier": "front"}},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				want := map[string]string{"app": "web", "tier": "front"}
				for what, got := range map[string]map[string]string{
					"labels":          rc.Labels,
					"selector":        rc.Spec.Selector,
					"template labels": rc.Spec.Template.Labels,
				} {
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s = %v, want %v", what, got, want)
					}
				}
			},
		},
		{
			name: "args",
			opts: rcOptions{Name: "web", Image: "busybox", Replicas: 1, Args: []string{"sleep", "3600"}},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				c := rc.Spec.Template.Spec.Containers[0]
				if !reflect.DeepEqual(c.Args, []string{"sleep", "3600"}) || c.Command != nil {
					t.Errorf("command %q args %q, want args [sleep 3600]", c.Command, c.Args)
				}
			},
		},
		{
			name: "command",
			opts: rcOptions{Name: "web", Image: "busybox", Replicas: 1, Args: []string{"sleep", "3600"}, Command: true},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				c := rc.Spec.Template.Spec.Containers[0]
				if !reflect.DeepEqual(c.Command, []string{"sleep", "3600"}) || c.Args != nil {
					t.Errorf("command %q args %q, want command [sleep 3600]", c.Command, c.Args)
				}
			},
		},
		{
			name: "annotations, pull policy and privileged go on the pod template",
			opts: rcOptions{Name: "web", Image: "nginx", Replicas: 1, Annotations: map[string]string{"a": "b"},
				ImagePullPolicy: corev1.PullNever, Privileged: true},
			check: func(t *testing.T, rc *corev1.ReplicationController) {
				if rc.Annotations != nil || !reflect.DeepEqual(rc.Spec.Template.Annotations, map[string]string{"a": "b"}) {
					t.Errorf("annotations: controller %v, template %v", rc.Annotations, rc.Spec.Template.Annotations)
				}
				c := rc.Spec.Template.Spec.Containers[0]
				if c.ImagePullPolicy != corev1.PullNever {
					t.Errorf("imagePullPolicy = %q", c.ImagePullPolicy)
				}
				if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
					t.Errorf("securityContext = %v, want privileged", c.SecurityContext)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := rcForRun(tt.opts)
			if rc.Name != tt.opts.Name {
				t.Errorf("name = %q", rc.Name)
			}
			if len(rc.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("containers = %d, want 1", len(rc.Spec.Template.Spec.Containers))
			}
			if c := rc.Spec.Template.Spec.Containers[0]; c.Name != tt.opts.Name || c.Image != tt.opts.Image {
				t.Errorf("container %q image %q", c.Name, c.Image)
			}
			tt.check(t, rc)
		})
	}
}

func TestRCForRunDoesNotShareMaps(t *testing.T) {
	labels := map[string]string{"app": "web"}
	rc := rcForRun(rcOptions{Name: "web", Image: "nginx", Replicas: 1, Labels: labels})
	rc.Spec.Template.Labels["extra"] = "x"
	if len(rc.Labels) != 1 || len(rc.Spec.Selector) != 1 || len(labels) != 1 {
		t.Errorf("template labels share a map: controller %v selector %v input %v", rc.Labels, rc.Spec.Selector, labels)
	}
}

func TestServiceForRun(t *testing.T) {
	svc := serviceForRun(rcOptions{Name: "kubia", Image: "luksa/kubia", Replicas: 1, Port: 8080})
	if svc.Name != "kubia" || svc.Labels != nil {
		t.Errorf("name %q labels %v, want kubia and no labels", svc.Name, svc.Labels)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, map[string]string{"run": "kubia"}) {
		t.Errorf("selector = %v", svc.Spec.Selector)
	}
	if p := svc.Spec.Ports; len(p) != 1 || p[0].Port != 8080 || p[0].TargetPort.IntValue() != 8080 || p[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports = %v", p)
	}
}

func TestParseLabelsAndEnvs(t *testing.T) {
	if got, err := parseLabels("app=web,tier=front"); err != nil || !reflect.DeepEqual(got, map[string]string{"app": "web", "tier": "front"}) {
		t.Errorf("parseLabels = %v, %v", got, err)
	}
	for _, bad := range []string{"app", "=web", "a=b=c"} {
		if _, err := parseLabels(bad); err == nil {
			t.Errorf("parseLabels(%q) succeeded", bad)
		}
	}
	if got, err := parseEnvs([]string{"A=1", "B=x=y", "C="}); err != nil || !reflect.DeepEqual(got, []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "x=y"}, {Name: "C"}}) {
		t.Errorf("parseEnvs = %v, %v", got, err)
	}
	for _, bad := range []string{"A", "=1", "1A=x"} {
		if _, err := parseEnvs([]string{bad}); err == nil {
			t.Errorf("parseEnvs(%q) succeeded", bad)
		}
	}
}
