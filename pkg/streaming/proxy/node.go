package proxy

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// ServeNodeProxy serves nodes/NAME/proxy/PATH as upstream's API server does
// for the kubelet: the request goes to the node's agent at PATH, with the API
// server's client certificate (never the caller's credentials). The agent
// answers its /healthz, /pods and /metrics there. Upgrades are not carried, and an
// agent's redirect is answered with a 502, never relayed (CVE-2020-8559).
func (p *Proxy) ServeNodeProxy(w http.ResponseWriter, r *http.Request, node, path string) {
	if wire.UpgradeProtocol(r) != wire.NoUpgrade {
		w.Header().Set("Connection", "close")
		wire.RefuseUpgrade(w, r, "nodes/proxy")
		return
	}
	host, err := p.agentHost(r.Context(), node)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	target := &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: r.URL.RawQuery}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = host
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "Impersonate-") || k == "Authorization" || k == "Cookie" {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport: p.logs.Transport,
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
				resp.Body.Close()
				return fmt.Errorf("the node agent attempted to redirect this request, which is not permitted")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			wire.WriteStatus(w, badGateway(fmt.Sprintf("error trying to reach node %q: %v", node, err)))
		},
	}
	rp.ServeHTTP(w, r)
}
