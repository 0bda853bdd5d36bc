package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/pkg/ociregistry"
)

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Work with container images: the cluster registry and the demo image"}
	var kubeconfig string
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "the cluster's kubeconfig (default $KUBECONFIG, else "+DefaultKubeconfig+")")
	client := func() (*ociregistry.Client, error) { return registryClient(kubeconfig) }

	cmd.AddCommand(&cobra.Command{
		Use:   "import FILE...",
		Short: "Store the images of docker-archive (`docker save`) or OCI archive tarballs in the cluster registry, under their names",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			for _, file := range args {
				refs, err := c.Import(cmd.Context(), file, progressPrinter(cmd.ErrOrStderr(), file))
				if err != nil {
					return err
				}
				for _, r := range refs {
					fmt.Fprintf(cmd.OutOrStdout(), "imported %s\n", r)
				}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List the images in the cluster registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			imgs, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tDIGEST\tSIZE")
			for _, i := range imgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Ref(), i.Digest.String()[:len("sha256:")+12], humanSize(i.Size))
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rm REF...",
		Short: "Remove images from the cluster registry (luksa/kubia means docker.io/luksa/kubia:latest)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			for _, ref := range args {
				removed, err := c.Remove(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", removed)
			}
			return nil
		},
	})
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

// registryClient reaches the cluster registry of the kubeconfig (as kubectl
// finds it: --kubeconfig, KUBECONFIG, the local server's) with its TLS
// material and token.
func registryClient(kubeconfig string) (*ociregistry.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	} else if os.Getenv("KUBECONFIG") == "" {
		rules.ExplicitPath = DefaultKubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("kubeconfig: server %q is not a URL", cfg.Host)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig TLS: %w", err)
	}
	c := &ociregistry.Client{
		Registry:  u.Host,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true},
	}
	if cfg.BearerToken != "" {
		c.Auth = &authn.Bearer{Token: cfg.BearerToken}
	}
	return c, nil
}

// progressPrinter reports an upload of a large file every few seconds.
func progressPrinter(w io.Writer, file string) ociregistry.Progress {
	const large = 64 << 20
	var last time.Time
	start := time.Now()
	return func(done, total int64) {
		if total < large || (time.Since(last) < 2*time.Second && done < total) {
			return
		}
		last = time.Now()
		rate := float64(done) / time.Since(start).Seconds()
		fmt.Fprintf(w, "%s: %s of %s sent (%d%%, %s/s)\n", filepath.Base(file), humanSize(done), humanSize(total), done*100/max(total, 1), humanSize(int64(rate)))
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
