package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
	"github.com/skiffhq/skiff/pkg/cleanup"
)

func newKillallCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "killall",
		Short: "Stop this node's pods, shims and containerd and remove their network and mounts; keep the data",
		Long: "Stop every pod, containerd shim and containerd of the node whose data directory is\n" +
			"--data-dir, and remove the pods' network namespaces, cgroups and mounts, and the\n" +
			"node's bridge, routes, VXLAN device, nftables table and skiff-lb interface. The data\n" +
			"stays: the next start recreates the pods. It touches nothing another containerd or\n" +
			"node made, refuses to run while a server or agent runs on the directory (stop it\n" +
			"first), and does nothing when nothing is left. Like k3s-killall.sh.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mustBeRoot("killall"); err != nil {
				return err
			}
			return cleanup.Killall(cmd.Context(), cleanup.Options{DataDir: dataDir, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", cleanup.DefaultDataDir, "the data directory of the node to stop")
	return cmd
}

func newUninstallCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Do what killall does, then remove the data directory and the kubeconfig the server wrote",
		Long: "Do what `skiff killall` does, then remove the data directory (the cluster's state,\n" +
			"certificates, images and DATA_DIR/kubeconfig.yaml) and the kubeconfig that\n" +
			"`skiff server --write-kubeconfig PATH` wrote, if it still is this cluster's. It\n" +
			"refuses a directory that does not look like a Skiff data directory, and does\n" +
			"nothing when it is already gone. Like k3s-uninstall.sh; the skiff binary stays.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mustBeRoot("uninstall"); err != nil {
				return err
			}
			return cleanup.Uninstall(cmd.Context(), cleanup.Options{DataDir: dataDir, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", cleanup.DefaultDataDir, "the data directory of the node to remove")
	return cmd
}

func mustBeRoot(verb string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	return fmt.Errorf("skiff %s stops processes and removes network devices and mounts: run it as root (sudo %s %s)", verb, selfCommand(), verb)
}

// selfCommand is how the user ran skiff: bin/skiff from the Makefile, a
// path, or skiff on PATH.
func selfCommand() string {
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	return "skiff"
}

// runNode runs a server or agent with its data directory locked (so that
// killall and uninstall refuse to run under it) and, when it stops on a
// signal, says what it left running and how to remove it.
func runNode(ctx context.Context, dataDir string, out io.Writer, run func() error) error {
	release, err := cleanup.Lock(dataDir)
	if err != nil {
		return err
	}
	defer release()
	runErr := run()
	if ctx.Err() == nil || (runErr != nil && !errors.Is(runErr, context.Canceled)) {
		return runErr
	}
	// The node agent stops the containerd it supervised as it stops; one
	// still there (the agent did not stop in time) is stopped here, so that
	// only the pods stay behind.
	_, _ = cleanup.StopContainerd(dataDir, containerd.DefaultStopTimeout)
	if left, err := cleanup.Survey(dataDir, ""); err == nil {
		fmt.Fprint(out, left.Note(selfCommand(), dataDir))
	}
	return runErr
}
