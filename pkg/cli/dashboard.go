package cli

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/dashboard"
)

func newDashboardCommand() *cobra.Command {
	var kubeconfig, address string
	var port int
	var urlOnly bool
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open the cluster's dashboard in a browser on this machine, signed in as the kubeconfig's user (like minikube dashboard); it runs until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := configFor(kubeconfig)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			return dashboard.ServeLocal(cmd.Context(), cfg, address, port, func(url string) {
				if urlOnly {
					fmt.Fprintln(out, url)
					return
				}
				fmt.Fprintf(out, "The dashboard is at %s\n(signed in as the kubeconfig's user; Ctrl-C stops it)\n", url)
				if err := openBrowser(url); err != nil {
					fmt.Fprintf(out, "Open that address in a browser on this machine (%v).\n", err)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, else "+DefaultKubeconfig+")")
	f.BoolVar(&urlOnly, "url", false, "print the URL only; do not open a browser")
	f.StringVar(&address, "address", "127.0.0.1", "address of this machine to serve the dashboard on")
	f.IntVar(&port, "port", 0, "port to serve the dashboard on (default: any free port)")
	return cmd
}

// openBrowser asks the desktop to open url, where there is one.
func openBrowser(url string) error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return fmt.Errorf("no desktop session here")
	}
	for _, opener := range []string{"xdg-open", "sensible-browser"} {
		if path, err := exec.LookPath(opener); err == nil {
			return exec.Command(path, url).Start()
		}
	}
	return fmt.Errorf("neither xdg-open nor sensible-browser is installed")
}
