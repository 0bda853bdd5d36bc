package cli

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func newServiceCommand() *cobra.Command {
	var namespace, kubeconfig string
	cmd := &cobra.Command{
		Use:   "service NAME",
		Short: "Print the URLs where a Service answers from this host (LoadBalancer ingress, else NodePort), like minikube service --url",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := clientFor(kubeconfig)
			if err != nil {
				return err
			}
			svc, err := client.CoreV1().Services(namespace).Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			urls, err := serviceURLs(cmd, client, svc)
			if err != nil {
				return err
			}
			for _, u := range urls {
				fmt.Fprintln(cmd.OutOrStdout(), u)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "the Service's namespace")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, else "+DefaultKubeconfig+")")
	cmd.Flags().Bool("url", true, "print URLs (the only output; accepted for minikube compatibility)")
	return cmd
}

// clientFor follows kubectl's rule: the flag, then KUBECONFIG (a list of
// files, merged), then the local server's kubeconfig.
func clientFor(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := configFor(kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// configFor is clientFor's configuration.
func configFor(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	if kubeconfig == "" && os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" {
		rules.ExplicitPath = DefaultKubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		where := rules.ExplicitPath
		if where == "" {
			where = "$" + clientcmd.RecommendedConfigPathEnvVar + " (" + os.Getenv(clientcmd.RecommendedConfigPathEnvVar) + ")"
		}
		return nil, fmt.Errorf("loading kubeconfig %s: %w (start a server with `skiff server`, or pass --kubeconfig)", where, err)
	}
	return cfg, nil
}

// serviceURLs lists http://HOST:PORT for each port: the LoadBalancer ingress
// addresses with the Service port, else the nodes' addresses with the NodePort.
func serviceURLs(cmd *cobra.Command, client kubernetes.Interface, svc *corev1.Service) ([]string, error) {
	var urls []string
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		host := ing.IP
		if host == "" {
			host = ing.Hostname
		}
		for _, p := range svc.Spec.Ports {
			urls = append(urls, "http://"+net.JoinHostPort(host, strconv.Itoa(int(p.Port))))
		}
	}
	if len(urls) > 0 {
		return urls, nil
	}
	hasNodePort := false
	for _, p := range svc.Spec.Ports {
		hasNodePort = hasNodePort || p.NodePort != 0
	}
	if !hasNodePort {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			return nil, fmt.Errorf("service %s/%s has no external address yet (EXTERNAL-IP <pending>)", svc.Namespace, svc.Name)
		}
		return nil, fmt.Errorf("service %s/%s is of type %s: it has no URL outside the cluster (expose it with --type=LoadBalancer or NodePort)", svc.Namespace, svc.Name, svc.Spec.Type)
	}
	nodes, err := client.CoreV1().Nodes().List(cmd.Context(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					urls = append(urls, "http://"+net.JoinHostPort(a.Address, strconv.Itoa(int(p.NodePort))))
				}
			}
		}
	}
	return urls, nil
}
