package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/images"
)

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Work with container images"}
	cmd.AddCommand(&cobra.Command{
		Use:   "build-demo DIR",
		Short: "Build the seed's demo image (docker.io/luksa/kubia:latest, an offline stand-in built from images/kubia) as DIR/kubia.tar; needs the Go toolchain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "building docker.io/luksa/kubia:latest from images/kubia ...")
			path, err := images.BuildDemo(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("building the demo image: %w", err)
			}
			abs, _ := filepath.Abs(path)
			fmt.Fprintln(cmd.OutOrStdout(), abs)
			return nil
		},
	})
	return cmd
}
