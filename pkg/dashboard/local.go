package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/proxy"
)

// ProxyPath is where the API server serves the dashboard: the services/proxy
// of its Service, as `kubectl cluster-info` prints it.
var ProxyPath = "/api/v1/namespaces/" + Namespace + "/services/https:" + Name + ":" + PortName + "/proxy"

// ServeLocal is `skiff dashboard`: a proxy on address:port (0: any free port)
// of this machine that signs the dashboard's requests with cfg's credentials,
// as `kubectl proxy` does, and forwards nothing but the dashboard: the pages
// act as cfg's user. It calls ready with the dashboard's URL once it listens,
// and serves until ctx ends.
func ServeLocal(ctx context.Context, cfg *rest.Config, address string, port int, ready func(url string)) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Services(Namespace).Get(ctx, Name, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return errors.New("this cluster serves no dashboard: its server runs with --disable dashboard")
		}
		return fmt.Errorf("finding the dashboard at %s: %w", cfg.Host, err)
	}
	only, err := proxy.MakeRegexpArray("^" + regexp.QuoteMeta(ProxyPath) + "(/.*)?$")
	if err != nil {
		return err
	}
	hosts, err := proxy.MakeRegexpArray(proxy.DefaultHostAcceptRE)
	if err != nil {
		return err
	}
	filter := &proxy.FilterServer{AcceptPaths: only, AcceptHosts: hosts}
	handler, err := proxy.NewProxyHandler("/", filter, cfg, 0, false)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listening for the dashboard: %w", err)
	}
	srv := &http.Server{Handler: handler}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	ready("http://" + l.Addr().String() + ProxyPath + "/")
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
