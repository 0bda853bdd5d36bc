package kubectl

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// NewCommand returns the upstream kubectl root command (Use "kubectl") for mounting
// under the skiff command tree. defaultKubeconfig is used when neither
// --kubeconfig nor KUBECONFIG is given and the file can be read.
//
// Like upstream kubectl, its commands report failures by printing "error: ..." and
// exiting the process (kubectl's CheckErr); the command is arranged so that usage
// errors cobra would otherwise return to the parent are reported the same way.
// kubectl plugins and kuberc aliases are only available through Main.
func NewCommand(defaultKubeconfig string) *cobra.Command {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	return newEmbedded(defaultKubeconfig, streams)
}

func newEmbedded(defaultKubeconfig string, streams genericiooptions.IOStreams) *cobra.Command {
	cmd, _ := newKubectl(defaultKubeconfig, streams, nil)
	embed(cmd)
	return cmd
}

// newKubectl builds the upstream kubectl tree plus the run/v1 generator. With argv
// (the whole command line, program name first) it also handles kubectl plugins
// and kuberc preferences, which upstream resolves while building the tree. The
// ConfigFlags are returned so tests can see which kubeconfig was chosen.
func newKubectl(defaultKubeconfig string, streams genericiooptions.IOStreams, argv []string) (*cobra.Command, *genericclioptions.ConfigFlags) {
	// The same ConfigFlags as upstream's defaultConfigFlags.
	configFlags := genericclioptions.NewConfigFlags(true).
		WithDeprecatedPasswordFlag().
		WithDiscoveryBurst(300).
		WithDiscoveryQPS(50.0).
		WithWarningPrinter(streams)

	// A default for --kubeconfig rather than a KUBECONFIG in the environment, so
	// that building the skiff command tree for `skiff server` does not change the
	// environment its children inherit. An explicit --kubeconfig still replaces
	// the default, and a KUBECONFIG present now means no default is set.
	kubeconfig := kubeconfigDefault(defaultKubeconfig)
	*configFlags.KubeConfig = kubeconfig

	opts := kubectlcmd.KubectlOptions{
		Arguments:   argv,
		ConfigFlags: configFlags,
		IOStreams:   streams,
	}
	var cmd *cobra.Command
	if argv != nil {
		opts.PluginHandler = kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes)
		cmd = kubectlcmd.NewDefaultKubectlCommandWithArgs(opts)
	} else {
		cmd = kubectlcmd.NewKubectlCommand(opts)
	}
	if kubeconfig != "" {
		setConfigCommandDefault(cmd, kubeconfig)
	}

	// Upstream keeps its factory to itself; one over the same ConfigFlags reads
	// the same kubeconfig and flags, and shares upstream's request wrapping.
	matchVersion := cmdutil.NewMatchVersionFlags(configFlags)
	f := cmdutil.NewFactory(matchVersion)
	addGenerators(cmd, f, matchVersion, streams)

	// At run time, so that building the skiff tree for other commands changes
	// nothing.
	pre := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		useDevVersionIfUnset()
		return pre(c, args)
	}
	return cmd, configFlags
}

// kubeconfigDefault returns path when it should stand in for upstream's default
// kubeconfig: KUBECONFIG is unset and path is a file this user can read. A file
// that exists but cannot be read (root's 0600 kubeconfig, read by another user)
// is passed over, so that user's ~/.kube/config still works.
func kubeconfigDefault(path string) string {
	if path == "" || os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return ""
	}
	return path
}

// setConfigCommandDefault gives `kubectl config ...` the same default kubeconfig:
// that command reads its own --kubeconfig flag and loading rules rather than the
// ConfigFlags.
func setConfigCommandDefault(root *cobra.Command, path string) {
	config, _, err := root.Find([]string{"config"})
	if err != nil || config == root {
		return
	}
	flag := config.PersistentFlags().Lookup(clientcmd.RecommendedConfigPathFlag)
	if flag == nil {
		return
	}
	if err := flag.Value.Set(path); err == nil {
		flag.DefValue = path
	}
}
