package pki

import (
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigName names the cluster, user and context, as k3s does, so that
// tools which merge kubeconfigs see the usual shape.
const kubeconfigName = "default"

// WriteKubeconfig writes a kubeconfig for server to path with the CA and the
// client certificate and key embedded, so the file keeps working when it is
// copied to another machine. The file holds a private key: mode 0600.
func WriteKubeconfig(path, server string, caPEM []byte, clientCertFile, clientKeyFile string) error {
	certPEM, err := os.ReadFile(clientCertFile)
	if err != nil {
		return fmt.Errorf("kubeconfig %q: %w", path, err)
	}
	keyPEM, err := os.ReadFile(clientKeyFile)
	if err != nil {
		return fmt.Errorf("kubeconfig %q: %w", path, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[kubeconfigName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[kubeconfigName] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[kubeconfigName] = &clientcmdapi.Context{Cluster: kubeconfigName, AuthInfo: kubeconfigName}
	cfg.CurrentContext = kubeconfigName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %q: %w", path, err)
	}
	return WriteFileAtomic(path, data, keyMode)
}
