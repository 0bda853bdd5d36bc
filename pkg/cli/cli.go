// Package cli wires the skiff binary's cobra commands to the packages that do the
// work. It parses flags and reports errors; it must not hold logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/kubectl"
)

// DefaultKubeconfig is where `skiff server` writes the admin kubeconfig by default;
// `skiff kubectl` uses it when neither KUBECONFIG nor --kubeconfig is given.
const DefaultKubeconfig = "/var/lib/skiff/kubeconfig.yaml"

// Main runs the command line and returns the exit code. Invoked through a link
// named kubectl, the binary is kubectl.
func Main(args []string) int {
	if filepath.Base(args[0]) == "kubectl" {
		return kubectl.Main(args, DefaultKubeconfig)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(args[1:])
	root.SetArgs(args[1:])
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	return 0
}

// newRoot builds the command tree that args (without the program name) run.
// The upstream kubectl tree is left out when another of skiff's commands runs:
// building it makes thousands of objects and runs code from all over the binary,
// and a `skiff server` would keep both for its whole life without using them.
func newRoot(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Skiff: a lightweight Kubernetes-compatible cluster in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newImageCommand(), newServiceCommand(), newDashboardCommand(),
		newEtcdSnapshotCommand(), newKillallCommand(), newUninstallCommand())
	if len(args) > 0 {
		if cmd, _, err := root.Find(args); err == nil && cmd != root {
			return root
		}
	}
	root.AddCommand(kubectl.NewCommand(DefaultKubeconfig))
	return root
}

func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
