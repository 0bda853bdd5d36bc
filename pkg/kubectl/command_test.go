package kubectl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// isolate keeps kubectl's caches, kuberc and default kubeconfig inside the test.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECACHEDIR", filepath.Join(home, "cache"))
	t.Setenv("KUBECONFIG", "")
}

// writeKubeconfig writes a kubeconfig whose only context is named context and
// points at server.
func writeKubeconfig(t *testing.T, context, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), context+".yaml")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
users:
- name: u
  user:
    token: t
contexts:
- name: %s
  context:
    cluster: c
    user: u
    namespace: default
current-context: %s
`, server, context, context)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fatal is a call to kubectl's CheckErr, which would have ended the process.
type fatal struct {
	msg  string
	code int
}

type result struct {
	out, errOut string
	fatal       *fatal
}

func (r result) String() string {
	if r.fatal == nil {
		return fmt.Sprintf("stdout %q, stderr %q, no error", r.out, r.errOut)
	}
	return fmt.Sprintf("stdout %q, stderr %q, exit %d with %q", r.out, r.errOut, r.fatal.code, r.fatal.msg)
}

// execute runs cmd with args, as far as the first CheckErr that fails.
func execute(t *testing.T, cmd *cobra.Command, out, errOut *bytes.Buffer, args ...string) (r result) {
	t.Helper()
	cmdutil.BehaviorOnFatal(func(msg string, code int) { panic(fatal{msg, code}) })
	defer cmdutil.DefaultBehaviorOnFatal()
	defer func() {
		r.out, r.errOut = out.String(), errOut.String()
		if p := recover(); p != nil {
			f, ok := p.(fatal)
			if !ok {
				panic(p)
			}
			r.fatal = &f
		}
	}()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("kubectl %s: returned %v; kubectl reports errors itself", strings.Join(args, " "), err)
	}
	return r
}

// newTestKubectl is the tree Main runs, without plugins, on buffers.
func newTestKubectl(defaultKubeconfig string) (*cobra.Command, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	cmd, _ := newKubectl(defaultKubeconfig, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, nil)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	return cmd, &out, &errOut
}

func TestNewCommandHasKubectlCommands(t *testing.T) {
	isolate(t)
	cmd := NewCommand("")
	if cmd.Use != "kubectl" {
		t.Errorf("Use = %q, want kubectl", cmd.Use)
	}
	for _, name := range []string{
		"get", "create", "apply", "explain", "logs", "port-forward", "run", "expose", "scale",
		"label", "annotate", "delete", "describe", "cluster-info", "version", "config", "exec",
		"edit", "patch", "rollout", "api-resources", "wait",
	} {
		sub, _, err := cmd.Find([]string{name})
		if err != nil || sub == cmd || sub.Name() != name {
			t.Errorf("kubectl %s: not found (%v)", name, err)
		}
	}
	run, _, _ := cmd.Find([]string{"run"})
	for _, flag := range []string{"generator", "replicas", "image", "port", "env", "labels", "command", "restart", "dry-run", "output"} {
		if run.Flags().Lookup(flag) == nil {
			t.Errorf("kubectl run has no --%s", flag)
		}
	}
	for _, flag := range []string{"kubeconfig", "namespace", "context", "server", "v"} {
		if cmd.PersistentFlags().Lookup(flag) == nil {
			t.Errorf("kubectl has no --%s", flag)
		}
	}
}

func TestKubeconfigDefault(t *testing.T) {
	isolate(t)
	defaultPath := writeKubeconfig(t, "skiff-default", "https://127.0.0.1:1")
	envPath := writeKubeconfig(t, "from-env", "https://127.0.0.1:1")
	flagPath := writeKubeconfig(t, "from-flag", "https://127.0.0.1:1")

	tests := []struct {
		name       string
		defaultArg string
		env        string
		flags      []string
		want       string // current context; "" for no kubeconfig at all
	}{
		{name: "default used when present", defaultArg: defaultPath, want: "skiff-default"},
		{name: "env wins", defaultArg: defaultPath, env: envPath, want: "from-env"},
		{name: "flag wins", defaultArg: defaultPath, flags: []string{"--kubeconfig", flagPath}, want: "from-flag"},
		{name: "flag wins over env", defaultArg: defaultPath, env: envPath, flags: []string{"--kubeconfig=" + flagPath}, want: "from-flag"},
		{name: "missing default file", defaultArg: filepath.Join(t.TempDir(), "absent.yaml"), want: ""},
		{name: "default that is a directory", defaultArg: t.TempDir(), want: ""},
		{name: "no default", defaultArg: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)

			// The client configuration every API command uses.
			cmd, configFlags := newKubectl(tt.defaultArg, genericiooptions.NewTestIOStreamsDiscard(), nil)
			if err := cmd.PersistentFlags().Parse(tt.flags); err != nil {
				t.Fatal(err)
			}
			raw, err := configFlags.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				t.Fatal(err)
			}
			if raw.CurrentContext != tt.want {
				t.Errorf("client config: current context %q, want %q", raw.CurrentContext, tt.want)
			}

			// `kubectl config`, which loads kubeconfig files by its own rules.
			var out, errOut bytes.Buffer
			cmd, _ = newKubectl(tt.defaultArg, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, nil)
			r := execute(t, cmd, &out, &errOut, append([]string{"config", "current-context"}, tt.flags...)...)
			if tt.want == "" {
				if r.fatal == nil || !strings.Contains(r.fatal.msg, "current-context is not set") {
					t.Errorf("config current-context: %s, want the error for no current context", r)
				}
				return
			}
			if r.fatal != nil || r.out != tt.want+"\n" {
				t.Errorf("config current-context printed %q (fatal %+v), want %q", r.out, r.fatal, tt.want)
			}
		})
	}
}

func TestRunGenerators(t *testing.T) {
	isolate(t)
	server := newFakeAPIServer(t)
	kubeconfig := writeKubeconfig(t, "skiff", server.URL)
	const unsupported = `error: generator "deployment/apps.v1" is not supported; supported generators: run/v1 (ReplicationController), run-pod/v1 (Pod)`

	tests := []struct {
		name    string
		args    []string
		out     string
		fatal   string
		created string // the path of the POST the server saw, if any
	}{
		{
			name:    "run/v1 creates a ReplicationController",
			args:    []string{"run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1"},
			out:     "replicationcontroller/kubia created\n",
			created: "POST /api/v1/namespaces/default/replicationcontrollers?fieldManager=kubectl-run",
		},
		{
			name:    "run/v1 with --expose also creates a Service",
			args:    []string{"run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1", "--expose"},
			out:     "replicationcontroller/kubia created\nservice/kubia created\n",
			created: "POST /api/v1/namespaces/default/services?fieldManager=kubectl-run",
		},
		{
			name:    "run/v1 server dry run",
			args:    []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--dry-run=server", "-n", "other"},
			out:     "replicationcontroller/kubia created (server dry run)\n",
			created: "POST /api/v1/namespaces/other/replicationcontrollers?dryRun=All&fieldManager=kubectl-run",
		},
		{
			name: "run/v1 client dry run",
			args: []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--dry-run=client"},
			out:  "replicationcontroller/kubia created (dry run)\n",
		},
		{
			name: "run/v1 -o name",
			args: []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--dry-run=client", "-o", "name"},
			out:  "replicationcontroller/kubia\n",
		},
		{
			name: "run/v1 -o jsonpath",
			args: []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--dry-run=client", "-r", "3",
				"--labels=app=kubia", "--env=A=1", "--command", "-o",
				"jsonpath={.spec.replicas} {.spec.selector} {.spec.template.spec.containers[0].env[0].name} {.spec.template.spec.containers[0].command}",
				"--", "sleep", "1"},
			out: `3 {"app":"kubia"} A ["sleep","1"]`,
		},
		{
			name: "run/v1 --overrides",
			args: []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--dry-run=client",
				`--overrides={"apiVersion":"v1","spec":{"replicas":5}}`, "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"},
			out: "5 luksa/kubia",
		},
		{
			name:  "run/v1 wants --restart=Always",
			args:  []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--restart=Never"},
			fatal: "error: --restart=Never is not supported with --generator=run/v1",
		},
		{
			name:  "run/v1 with a bad port",
			args:  []string{"run", "kubia", "--image=luksa/kubia", "--generator=run/v1", "--port=http"},
			fatal: "error: --port must be a number from 1 to 65535",
		},
		{
			name:  "unsupported generator",
			args:  []string{"run", "kubia", "--image=luksa/kubia", "--generator=deployment/apps.v1"},
			fatal: unsupported,
		},
		{
			name:  "--replicas without run/v1",
			args:  []string{"run", "kubia", "--image=luksa/kubia", "--replicas=2"},
			fatal: "error: --replicas is only supported with --generator=run/v1",
		},
		{
			name: "run-pod/v1 is upstream's run",
			args: []string{"run", "kubia", "--image=luksa/kubia", "--generator=run-pod/v1", "--dry-run=client", "-o",
				"jsonpath={.kind} {.metadata.labels.run} {.spec.restartPolicy}"},
			out: "Pod kubia Always",
		},
		{
			name:    "no generator is upstream's run",
			args:    []string{"run", "kubia", "--image=luksa/kubia"},
			out:     "pod/kubia created\n",
			created: "POST /api/v1/namespaces/default/pods?fieldManager=kubectl-run",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server.reset()
			cmd, out, errOut := newTestKubectl("")
			r := execute(t, cmd, out, errOut, append([]string{"--kubeconfig", kubeconfig}, tt.args...)...)
			switch {
			case tt.fatal != "":
				if r.fatal == nil || r.fatal.code != 1 || !strings.HasPrefix(r.fatal.msg, tt.fatal) {
					t.Fatalf("got %s, want exit 1 with %q", r, tt.fatal)
				}
			case r.fatal != nil:
				t.Fatalf("failed: %s", r)
			case r.out != tt.out:
				t.Errorf("printed %q, want %q (stderr %q)", r.out, tt.out, r.errOut)
			}
			if tt.created != "" && !server.saw(tt.created) {
				t.Errorf("server saw %q, want %q among them", server.requests(), tt.created)
			}
			if tt.created == "" && server.sawCreate() {
				t.Errorf("server saw a create: %q", server.requests())
			}
		})
	}
}

func TestRunV1CreatesWhatTheGeneratorBuilt(t *testing.T) {
	isolate(t)
	server := newFakeAPIServer(t)
	kubeconfig := writeKubeconfig(t, "skiff", server.URL)
	cmd, out, errOut := newTestKubectl("")
	r := execute(t, cmd, out, errOut, "run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1", "--kubeconfig", kubeconfig)
	if r.fatal != nil {
		t.Fatal(r.fatal.msg)
	}
	body := server.body("POST /api/v1/namespaces/default/replicationcontrollers")
	for _, want := range []string{
		`"kind":"ReplicationController"`, `"name":"kubia"`, `"replicas":1`, `"selector":{"run":"kubia"}`,
		`"image":"luksa/kubia"`, `"containerPort":8080`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("request body %s lacks %s", body, want)
		}
	}
}

func TestVersionWithoutLdflags(t *testing.T) {
	isolate(t)
	server := newFakeAPIServer(t)
	kubeconfig := writeKubeconfig(t, "skiff", server.URL)
	cmd, out, errOut := newTestKubectl(kubeconfig)
	r := execute(t, cmd, out, errOut, "version")
	if r.fatal != nil {
		t.Fatalf("kubectl version: %s", r)
	}
	want := "Client Version: v0.0.0-master\nKustomize Version: v5.8.1\nServer Version: v1.37.2\n"
	if r.out != want {
		t.Errorf("kubectl version printed %q, want %q", r.out, want)
	}
	if !strings.Contains(r.errOut, "Warning: version difference between client (0.0) and server (1.37)") {
		t.Errorf("stderr %q, want the version skew warning", r.errOut)
	}
}

func TestEmbedded(t *testing.T) {
	isolate(t)
	var out, errOut bytes.Buffer
	kubectl := newEmbedded("", genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root := &cobra.Command{Use: "skiff", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(kubectl)
	root.SetOut(&out)
	root.SetErr(&errOut)

	tests := []struct {
		args  []string
		fatal string
		out   string
	}{
		{args: []string{"kubectl", "gett"}, fatal: "error: unknown command \"gett\" for \"skiff kubectl\"\n\nDid you mean this?\n\tget\n\tset\n"},
		{args: []string{"kubectl", "get", "--no-such-flag"}, fatal: "error: unknown flag: --no-such-flag\nSee 'skiff kubectl get --help' for usage."},
		{args: []string{"kubectl", "run", "kubia"}, fatal: `error: required flag(s) "image" not set`},
		{args: []string{"kubectl"}, out: "kubectl controls the Kubernetes cluster manager"},
		{args: []string{"kubectl", "help", "run"}, out: "--generator=''"},
		{args: []string{"kubectl", "run", "--help"}, out: "kubectl run kubia --image=luksa/kubia --port=8080 --generator=run/v1"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out.Reset()
			errOut.Reset()
			r := execute(t, root, &out, &errOut, tt.args...)
			if tt.fatal != "" {
				if r.fatal == nil || r.fatal.code != 1 || r.fatal.msg != tt.fatal {
					t.Errorf("got %s, want exit 1 with %q", r, tt.fatal)
				}
				return
			}
			if r.fatal != nil || !strings.Contains(r.out, tt.out) {
				t.Errorf("got %s, want output containing %q", r, tt.out)
			}
		})
	}
	if kubectl.PersistentFlags().Lookup("v") == nil {
		t.Error("embedded kubectl has no -v")
	}
}

func TestMainExitCodes(t *testing.T) {
	isolate(t)
	defaultPath := writeKubeconfig(t, "skiff-default", "https://127.0.0.1:1")
	args := os.Args
	t.Cleanup(func() { os.Args = args })

	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	if code := run([]string{"kubectl", "--no-such-flag"}, defaultPath, streams); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := "error: unknown flag: --no-such-flag\nSee 'kubectl --help' for usage.\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}

	out.Reset()
	errOut.Reset()
	if code := run([]string{"kubectl", "config", "current-context"}, defaultPath, streams); code != 0 {
		t.Errorf("exit code %d, want 0 (stderr %q)", code, errOut.String())
	}
	if out.String() != "skiff-default\n" {
		t.Errorf("printed %q, want skiff-default", out.String())
	}
	if got := os.Getenv("KUBECONFIG"); got != defaultPath {
		t.Errorf("KUBECONFIG = %q, want %q for plugins", got, defaultPath)
	}
}
