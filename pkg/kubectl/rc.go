package kubectl

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/scheme"
	"k8s.io/kubectl/pkg/util"
)

// rcOptions is what `kubectl run --generator=run/v1` builds a ReplicationController
// from.
type rcOptions struct {
	Name     string
	Image    string
	Replicas int32
	// Port is the containerPort; 0 for none.
	Port int32
	// Labels go on the controller, its selector and its pod template; empty
	// means run=NAME. As in kubectl 1.17, --labels replaces run=NAME.
	Labels map[string]string
	// Annotations go on the pod template, as upstream's run puts them on the pod.
	Annotations     map[string]string
	Env             []corev1.EnvVar
	Args            []string
	Command         bool // Args are the container's command, not its args
	ImagePullPolicy corev1.PullPolicy
	Privileged      bool
}

// labels returns the labels the controller selects its pods by.
func (o rcOptions) labels() map[string]string {
	if len(o.Labels) == 0 {
		return map[string]string{"run": o.Name}
	}
	return o.Labels
}

// rcForRun builds the ReplicationController kubectl 1.17's run/v1 generator
// built: restart policy and DNS policy are left to the server's defaults.
func rcForRun(o rcOptions) *corev1.ReplicationController {
	container := corev1.Container{
		Name:            o.Name,
		Image:           o.Image,
		ImagePullPolicy: o.ImagePullPolicy,
	}
	if len(o.Env) > 0 {
		container.Env = append([]corev1.EnvVar(nil), o.Env...)
	}
	if len(o.Args) > 0 {
		args := append([]string(nil), o.Args...)
		if o.Command {
			container.Command = args
		} else {
			container.Args = args
		}
	}
	if o.Port > 0 {
		container.Ports = []corev1.ContainerPort{{ContainerPort: o.Port}}
	}
	if o.Privileged {
		privileged := true
		container.SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
	}

	replicas := o.Replicas
	labels := o.labels()
	var annotations map[string]string
	if len(o.Annotations) > 0 {
		annotations = copyMap(o.Annotations)
	}
	return &corev1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: copyMap(labels)},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: copyMap(labels),
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyMap(labels), Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{container}},
			},
		},
	}
}

// serviceForRun is the Service `run --expose` creates in front of the
// controller's pods, built as upstream's run builds it for a pod.
func serviceForRun(o rcOptions) *corev1.Service {
	var labels map[string]string
	if len(o.Labels) > 0 {
		labels = copyMap(o.Labels)
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: copyMap(o.labels()),
			Ports: []corev1.ServicePort{{
				Port:       o.Port,
				Protocol:   corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(o.Port),
			}},
		},
	}
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// rcOptionsFromFlags reads and checks upstream run's flags and ours for run/v1.
func rcOptionsFromFlags(cmd *cobra.Command, args []string) (rcOptions, error) {
	var o rcOptions
	// As upstream: `kubectl run -- NAME` has no name.
	if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
		return o, fmt.Errorf("NAME is required for run")
	}
	o.Name, o.Args = args[0], args[1:]

	o.Image = cmdutil.GetFlagString(cmd, "image")
	if o.Image == "" {
		return o, fmt.Errorf("--image is required")
	}
	if !reference.ReferenceRegexp.MatchString(o.Image) {
		return o, fmt.Errorf("invalid image name %q: %w", o.Image, reference.ErrReferenceInvalidFormat)
	}

	o.Replicas = cmdutil.GetFlagInt32(cmd, "replicas")
	if o.Replicas < 0 {
		return o, fmt.Errorf("--replicas must not be negative, found %d", o.Replicas)
	}
	if port := cmdutil.GetFlagString(cmd, "port"); port != "" {
		n, err := strconv.ParseInt(port, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return o, fmt.Errorf("--port must be a number from 1 to 65535")
		}
		o.Port = int32(n)
	}
	if cmdutil.GetFlagBool(cmd, "expose") && o.Port == 0 {
		return o, fmt.Errorf("--port must be set when exposing a service")
	}
	if restart := cmdutil.GetFlagString(cmd, "restart"); restart != string(corev1.RestartPolicyAlways) {
		return o, fmt.Errorf("--restart=%s is not supported with --generator=%s: a ReplicationController's pods restart Always; use --generator=%s for a pod that does not",
			restart, generatorRC, generatorPod)
	}
	for _, name := range []string{"attach", "stdin", "tty", "rm"} {
		if cmdutil.GetFlagBool(cmd, name) {
			return o, fmt.Errorf("--%s is not supported with --generator=%s; use --generator=%s", name, generatorRC, generatorPod)
		}
	}

	var err error
	if o.Labels, err = parseLabels(cmdutil.GetFlagString(cmd, "labels")); err != nil {
		return o, err
	}
	if o.Annotations, _, err = cmdutil.ParsePairs(cmdutil.GetFlagStringArray(cmd, "annotations"), "annotations", false); err != nil {
		return o, err
	}
	if o.Env, err = parseEnvs(cmdutil.GetFlagStringArray(cmd, "env")); err != nil {
		return o, err
	}
	switch policy := corev1.PullPolicy(cmdutil.GetFlagString(cmd, "image-pull-policy")); policy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		o.ImagePullPolicy = policy
	default:
		return o, fmt.Errorf("invalid image pull policy: %s, valid values are: %s, %s, %s",
			policy, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
	}
	o.Command = cmdutil.GetFlagBool(cmd, "command")
	o.Privileged = cmdutil.GetFlagBool(cmd, "privileged")
	return o, nil
}

// parseLabels reads --labels as kubectl run always has: k=v pairs, comma-separated.
func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	labels := map[string]string{}
	for _, spec := range strings.Split(s, ",") {
		kv := strings.Split(spec, "=")
		if len(kv) != 2 {
			return nil, fmt.Errorf("unexpected label spec: %s", spec)
		}
		if kv[0] == "" {
			return nil, fmt.Errorf("unexpected empty label key")
		}
		labels[kv[0]] = kv[1]
	}
	return labels, nil
}

// parseEnvs reads --env NAME=VALUE as upstream run does.
func parseEnvs(pairs []string) ([]corev1.EnvVar, error) {
	envs := make([]corev1.EnvVar, 0, len(pairs))
	for _, pair := range pairs {
		name, value, found := strings.Cut(pair, "=")
		if !found || name == "" || len(validation.IsEnvVarName(name)) != 0 {
			return nil, fmt.Errorf("invalid env: %v", pair)
		}
		envs = append(envs, corev1.EnvVar{Name: name, Value: value})
	}
	return envs, nil
}

// runReplicationController is `kubectl run --generator=run/v1`: it creates (or,
// with --dry-run, only prints) the controller, and with --expose its Service.
func runReplicationController(f cmdutil.Factory, cmd *cobra.Command, args []string, streams genericiooptions.IOStreams) error {
	o, err := rcOptionsFromFlags(cmd, args)
	if err != nil {
		return err
	}
	dryRun, err := cmdutil.GetDryRunStrategy(cmd)
	if err != nil {
		return err
	}
	namespace, enforceNamespace, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	print, err := printerFor(cmd, dryRun, streams)
	if err != nil {
		return err
	}
	recorder, err := recorderFor(cmd)
	if err != nil {
		return err
	}

	rc, err := applyOverrides(cmd, rcForRun(o))
	if err != nil {
		return err
	}
	if err := recorder.Record(rc); err != nil {
		return err
	}

	objects := []runtime.Object{rc}
	if cmdutil.GetFlagBool(cmd, "expose") {
		objects = append(objects, serviceForRun(o))
	}

	if dryRun == cmdutil.DryRunClient {
		for _, obj := range objects {
			if enforceNamespace {
				obj.(metav1.Object).SetNamespace(namespace)
			}
			if err := print(obj); err != nil {
				return err
			}
		}
		return nil
	}

	client, err := f.KubernetesClientSet()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	create := metav1.CreateOptions{FieldManager: cmdutil.GetFlagString(cmd, "field-manager")}
	if dryRun == cmdutil.DryRunServer {
		create.DryRun = []string{metav1.DryRunAll}
	}
	saveConfig := cmdutil.GetFlagBool(cmd, cmdutil.ApplyAnnotationsFlag)
	for _, obj := range objects {
		if err := util.CreateOrUpdateAnnotation(saveConfig, obj, scheme.DefaultJSONEncoder()); err != nil {
			return err
		}
		var created runtime.Object
		switch obj := obj.(type) {
		case *corev1.ReplicationController:
			created, err = client.CoreV1().ReplicationControllers(namespace).Create(ctx, obj, create)
		case *corev1.Service:
			created, err = client.CoreV1().Services(namespace).Create(ctx, obj, create)
		}
		if err != nil {
			return err
		}
		if err := print(created); err != nil {
			return err
		}
	}
	return nil
}

// The flags below are upstream run's, bound to upstream's private options; we read
// them by copying their values onto fresh instances of the same upstream types.

func printerFor(cmd *cobra.Command, dryRun cmdutil.DryRunStrategy, streams genericiooptions.IOStreams) (func(runtime.Object) error, error) {
	flags := genericclioptions.NewPrintFlags("created").WithTypeSetter(scheme.Scheme)
	copyFlagsTo(cmd, flags.AddFlags)
	cmdutil.PrintFlagsWithDryRunStrategy(flags, dryRun)
	printer, err := flags.ToPrinter()
	if err != nil {
		return nil, err
	}
	return func(obj runtime.Object) error { return printer.PrintObj(obj, streams.Out) }, nil
}

func recorderFor(cmd *cobra.Command) (genericclioptions.Recorder, error) {
	flags := genericclioptions.NewRecordFlags()
	copyFlagsTo(cmd, flags.AddFlags)
	if err := flags.Complete(cmd); err != nil {
		return nil, err
	}
	return flags.ToRecorder()
}

// applyOverrides applies --overrides and --override-type to the generated
// controller.
func applyOverrides(cmd *cobra.Command, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	options := &cmdutil.OverrideOptions{}
	copyFlagsTo(cmd, options.AddOverrideFlags)
	obj, err := options.NewOverrider(&corev1.ReplicationController{}).Apply(rc)
	if err != nil {
		return nil, err
	}
	overridden, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil, fmt.Errorf("--overrides turned the ReplicationController into a %T", obj)
	}
	return overridden, nil
}

// copyFlagsTo binds fresh values with bind, then sets each of them that the user
// set on cmd to the user's value.
func copyFlagsTo(cmd *cobra.Command, bind func(*cobra.Command)) {
	scratch := &cobra.Command{}
	bind(scratch)
	scratch.Flags().VisitAll(func(to *pflag.Flag) {
		if from := cmd.Flags().Lookup(to.Name); from != nil && from.Changed {
			_ = scratch.Flags().Set(to.Name, from.Value.String())
		}
	})
}
