package kubectl

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// The generators `kubectl run` had until 1.18 that Skiff still knows.
const (
	generatorRC  = "run/v1"
	generatorPod = "run-pod/v1"
)

func errUnsupportedGenerator(name string) error {
	return fmt.Errorf("generator %q is not supported; supported generators: %s (ReplicationController), %s (Pod)",
		name, generatorRC, generatorPod)
}

// addGenerators gives upstream's `run` the --generator and --replicas flags and
// sends --generator=run/v1 to runReplicationController. Every other use of `run`
// is upstream's, unchanged.
func addGenerators(root *cobra.Command, f cmdutil.Factory, matchVersion *cmdutil.MatchVersionFlags, streams genericiooptions.IOStreams) {
	run, _, err := root.Find([]string{"run"})
	if err != nil || run == root || run.Run == nil {
		panic("kubectl: upstream has no run command to add generators to")
	}
	upstream := run.Run

	run.Flags().String("generator", "", fmt.Sprintf(
		"The generator to use: %s creates a ReplicationController, %s (like no generator) a Pod.", generatorRC, generatorPod))
	run.Flags().Int32P("replicas", "r", 1, fmt.Sprintf("Number of replicas to create. Only with --generator=%s.", generatorRC))
	run.Example += `

  # Start a replicated kubia (a ReplicationController, as kubectl 1.17 did)
  kubectl run kubia --image=luksa/kubia --port=8080 --generator=run/v1`

	run.Run = func(cmd *cobra.Command, args []string) {
		switch g := cmdutil.GetFlagString(cmd, "generator"); g {
		case "", generatorPod:
			if cmd.Flags().Changed("replicas") {
				cmdutil.CheckErr(fmt.Errorf("--replicas is only supported with --generator=%s", generatorRC))
			}
			upstream(cmd, args)
		case generatorRC:
			// upstream binds --match-server-version to its own factory's flags.
			matchVersion.RequireMatchedServerVersion = cmdutil.GetFlagBool(cmd, "match-server-version")
			cmdutil.CheckErr(runReplicationController(f, cmd, args, streams))
		default:
			cmdutil.CheckErr(errUnsupportedGenerator(g))
		}
	}
}
