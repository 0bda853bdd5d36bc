package kubectl

import (
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Main runs kubectl as the whole program, as upstream's cmd/kubectl does, and
// returns the exit code for errors that come back to it. args is the whole
// command line, program name first (os.Args). Like upstream, a command that fails
// while running prints "error: ..." and exits the process itself, with 1 or the
// code kubectl gives that failure.
//
// Main owns the process: it sets os.Args to args, sets KUBECONFIG to
// defaultKubeconfig when that is used (so kubectl plugins see the same cluster),
// and sets kubectl's fatal-error handler.
func Main(args []string, defaultKubeconfig string) int {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	return run(args, defaultKubeconfig, streams)
}

func run(args []string, defaultKubeconfig string, streams genericiooptions.IOStreams) int {
	if len(args) == 0 {
		args = []string{"kubectl"}
	}
	// Upstream sets the verbosity before building the command so that loading
	// kuberc is logged at the level asked for.
	_, _ = logs.GlogSetter(kubectlcmd.GetLogVerbosity(args))

	if path := kubeconfigDefault(defaultKubeconfig); path != "" {
		if err := os.Setenv(clientcmd.RecommendedConfigPathEnvVar, path); err != nil {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
			return 1
		}
	}

	// cobra reads os.Args[1:] unless kuberc's aliases set other arguments while
	// the tree was built, so point os.Args at ours instead of calling SetArgs.
	os.Args = args
	cmd, _ := newKubectl(defaultKubeconfig, streams, args)
	err := cli.RunNoErrOutput(cmd)
	if err == nil {
		return 0
	}
	code := 1
	cmdutil.BehaviorOnFatal(func(msg string, c int) {
		printFatal(streams.ErrOut, msg)
		code = c
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	cmdutil.CheckErr(err)
	return code
}

// printFatal prints msg as kubectl's fatal handler does.
func printFatal(w io.Writer, msg string) {
	if msg == "" {
		return
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(w, msg)
}
