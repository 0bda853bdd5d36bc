package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func TestRender(t *testing.T) {
	a := netip.MustParseAddr
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	r := &renderer{nodeIPs: []netip.Addr{a("192.168.77.2")}, clusterCIDR: cidr}
	key := func(s string) destKey { return keyOf(netip.MustParseAddrPort(s), TCP) }
	lb := ServicePort{Namespace: "default", Name: "web", PortName: "http", Protocol: TCP,
		ClusterIP: a("10.43.0.10"), Port: 80, NodePort: 30080, LoadBalancerIPs: []netip.Addr{a("10.99.0.10")},
		Endpoints: []Endpoint{{a("10.42.0.2"), 8080, true}, {a("10.42.1.2"), 8080, false}}}

	t.Run("Cluster policy: every address to the service chain", func(t *testing.T) {
		got := r.render(lb, nil)
		want := map[destKey]string{
			key("10.43.0.10:80"):      "svc-default/web/tcp/http",
			key("10.99.0.10:80"):      "svc-default/web/tcp/http",
			key("192.168.77.2:30080"): "svc-default/web/tcp/http",
		}
		if !reflect.DeepEqual(got.dispatch, want) {
			t.Errorf("dispatch = %v, want %v", got.dispatch, want)
		}
		wantChains := []string{"svc-default/web/tcp/http", "ep-default/web/tcp/http__10.42.0.2/8080", "ep-default/web/tcp/http__10.42.1.2/8080"}
		if !reflect.DeepEqual(got.chains, wantChains) {
			t.Errorf("chains = %v, want %v", got.chains, wantChains)
		}
	})

	t.Run("Local policy: external addresses to this node's endpoints", func(t *testing.T) {
		sp := lb
		sp.ExternalLocal = true
		sp.AffinityTimeout = time.Minute
		got := r.render(sp, nil)
		if got.dispatch[key("10.43.0.10:80")] != "svc-default/web/tcp/http" ||
			got.dispatch[key("10.99.0.10:80")] != "ext-default/web/tcp/http" ||
			got.dispatch[key("192.168.77.2:30080")] != "ext-default/web/tcp/http" {
			t.Errorf("dispatch = %v", got.dispatch)
		}
		ext := got.specs[1]
		if ext.name != "ext-default/web/tcp/http" {
			t.Fatalf("second chain %s, want the external one", ext.name)
		}
		var gotos []string
		for _, rule := range ext.rules {
			if v, ok := rule[len(rule)-1].(*expr.Verdict); ok && v.Kind == expr.VerdictGoto {
				gotos = append(gotos, v.Chain)
			}
		}
		// pods and the node itself: cluster-wide; then affinity and pick, local only.
		want := []string{"svc-default/web/tcp/http", "svc-default/web/tcp/http",
			"ep-default/web/tcp/http__10.42.0.2/8080", "ep-default/web/tcp/http__10.42.0.2/8080"}
		if !reflect.DeepEqual(gotos, want) {
			t.Errorf("external chain goes to %v, want %v", gotos, want)
		}
		if len(got.sets) != 2 {
			t.Errorf("affinity sets %v, want one per endpoint", got.sets)
		}

		sp.Endpoints = []Endpoint{{a("10.42.1.2"), 8080, false}}
		got = r.render(sp, nil)
		last := got.specs[1].rules[len(got.specs[1].rules)-1]
		if v, ok := last[0].(*expr.Verdict); !ok || v.Kind != expr.VerdictDrop {
			t.Errorf("no local endpoint: external chain ends with %v, want drop", last)
		}
	})

	t.Run("no endpoints: every address rejected", func(t *testing.T) {
		sp := lb
		sp.Endpoints = nil
		got := r.render(sp, nil)
		if len(got.dispatch) != 0 || len(got.reject) != 3 || len(got.chains) != 0 {
			t.Errorf("render = %+v, want 3 rejected keys and nothing else", got.footprint)
		}
	})

	t.Run("an address another Service holds is left to it", func(t *testing.T) {
		got := r.render(lb, func(k destKey) bool { return k == key("10.99.0.10:80") })
		if _, ok := got.dispatch[key("10.99.0.10:80")]; ok || len(got.dispatch) != 2 {
			t.Errorf("dispatch = %v, want the taken key left out", got.dispatch)
		}
	})

	t.Run("names are nft words", func(t *testing.T) {
		sp := lb
		sp.AffinityTimeout = time.Minute
		got := r.render(sp, nil)
		for _, n := range got.chains {
			if strings.ContainsAny(n, ": ") {
				t.Errorf("chain name %q needs quoting in nft", n)
			}
		}
		for _, s := range got.sets {
			if strings.ContainsAny(s.name, ": ") {
				t.Errorf("set name %q needs quoting in nft", s.name)
			}
		}
	})
}

// TestRenderInternalTrafficPolicyLocal checks where each address of an
// internalTrafficPolicy: Local port goes, and what each of its chains does,
// rule by rule: "-" is the masquerade mark, "drop" a drop, anything else the
// chain the rule goes to.
func TestRenderInternalTrafficPolicyLocal(t *testing.T) {
	a := netip.MustParseAddr
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	r := &renderer{nodeIPs: []netip.Addr{a("192.168.77.2")}, clusterCIDR: cidr}
	here, there := Endpoint{a("10.42.0.2"), 8080, true}, Endpoint{a("10.42.1.2"), 8080, false}
	lb := ServicePort{Namespace: "default", Name: "web", PortName: "http", Protocol: TCP,
		ClusterIP: a("10.43.0.10"), Port: 80, NodePort: 30080, LoadBalancerIPs: []netip.Addr{a("10.99.0.10")},
		InternalLocal: true, Endpoints: []Endpoint{here, there}}
	internalOnly := lb
	internalOnly.NodePort, internalOnly.LoadBalancerIPs = 0, nil
	const (
		svcC, intC, extC = "svc-default/web/tcp/http", "int-default/web/tcp/http", "ext-default/web/tcp/http"
		epHere, epThere  = "ep-default/web/tcp/http__10.42.0.2/8080", "ep-default/web/tcp/http__10.42.1.2/8080"
	)
	with := func(sp ServicePort, f func(*ServicePort)) ServicePort { f(&sp); return sp }

	tests := []struct {
		name     string
		sp       ServicePort
		dispatch map[string]string // ClusterIP, LoadBalancer IP, NodePort
		rules    map[string][]string
		chains   []string
		sets     int
		rejected int
	}{{
		name:     "ClusterIP to this node's endpoint, external addresses to every endpoint",
		sp:       with(lb, func(sp *ServicePort) { sp.AffinityTimeout = time.Minute }),
		dispatch: map[string]string{"10.43.0.10:80": intC, "10.99.0.10:80": svcC, "192.168.77.2:30080": svcC},
		rules: map[string][]string{
			svcC: {"-", epHere, epThere, epHere, epThere},
			intC: {"-", epHere, epHere},
		},
		chains: []string{svcC, intC, epHere, epThere},
		sets:   2,
	}, {
		name:     "external policy Local too: pods and the node still short-circuit to every endpoint",
		sp:       with(lb, func(sp *ServicePort) { sp.ExternalLocal = true }),
		dispatch: map[string]string{"10.43.0.10:80": intC, "10.99.0.10:80": extC, "192.168.77.2:30080": extC},
		rules: map[string][]string{
			svcC: {"-", epHere, epThere},
			intC: {"-", epHere},
			extC: {svcC, svcC, epHere},
		},
		chains: []string{svcC, intC, extC, epHere, epThere},
	}, {
		name:     "ClusterIP only: no chain for the service-wide pick nor for other nodes' endpoints",
		sp:       with(internalOnly, func(sp *ServicePort) { sp.AffinityTimeout = time.Minute }),
		dispatch: map[string]string{"10.43.0.10:80": intC},
		rules:    map[string][]string{intC: {"-", epHere, epHere}},
		chains:   []string{intC, epHere},
		sets:     1,
	}, {
		name:     "only remote endpoints: ClusterIP dropped, external addresses still served",
		sp:       with(lb, func(sp *ServicePort) { sp.Endpoints = []Endpoint{there} }),
		dispatch: map[string]string{"10.43.0.10:80": intC, "10.99.0.10:80": svcC, "192.168.77.2:30080": svcC},
		rules:    map[string][]string{svcC: {"-", epThere}, intC: {"drop"}},
		chains:   []string{svcC, intC, epThere},
	}, {
		name:     "ClusterIP only, only remote endpoints: dropped, not rejected",
		sp:       with(internalOnly, func(sp *ServicePort) { sp.Endpoints = []Endpoint{there} }),
		dispatch: map[string]string{"10.43.0.10:80": intC},
		rules:    map[string][]string{intC: {"drop"}},
		chains:   []string{intC},
	}, {
		name:     "no endpoints anywhere: every address rejected, as with Cluster",
		sp:       with(lb, func(sp *ServicePort) { sp.Endpoints = nil }),
		dispatch: map[string]string{},
		rejected: 3,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.render(tt.sp, nil)
			dispatch := map[string]string{}
			for k, chain := range got.dispatch {
				dispatch[strings.TrimSuffix(k.String(), "/tcp")] = chain
			}
			if !reflect.DeepEqual(dispatch, tt.dispatch) {
				t.Errorf("dispatch = %v, want %v", dispatch, tt.dispatch)
			}
			if len(got.reject) != tt.rejected {
				t.Errorf("rejected %v, want %d keys", got.reject, tt.rejected)
			}
			if !reflect.DeepEqual(got.chains, tt.chains) {
				t.Errorf("chains = %v, want %v", got.chains, tt.chains)
			}
			if len(got.sets) != tt.sets {
				t.Errorf("affinity sets %v, want %d", got.sets, tt.sets)
			}
			for _, spec := range got.specs {
				want, ok := tt.rules[spec.name]
				if !ok {
					continue
				}
				var rules []string
				for _, rule := range spec.rules {
					rules = append(rules, ruleOutcome(rule))
				}
				if !reflect.DeepEqual(rules, want) {
					t.Errorf("chain %s: rules %v, want %v", spec.name, rules, want)
				}
			}
		})
	}
}

// ruleOutcome is "drop", the chain a rule goes to, or "-" for a rule with
// no verdict.
func ruleOutcome(rule []expr.Any) string {
	v, ok := rule[len(rule)-1].(*expr.Verdict)
	switch {
	case !ok:
		return "-"
	case v.Kind == expr.VerdictDrop:
		return "drop"
	case v.Kind == expr.VerdictGoto:
		return v.Chain
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}

// TestIncrementalPlan checks what an incremental sync would write, without
// sending it to the kernel.
func TestIncrementalPlan(t *testing.T) {
	m := bigModel()
	r := &renderer{nodeIPs: []netip.Addr{netip.MustParseAddr("192.168.77.2")}}
	state, _ := (&batch{r: r}).renderAll(m)
	c, err := nftables.New() // dials only on Flush, which the test never calls
	if err != nil {
		t.Fatal(err)
	}

	b := &batch{c: c, r: r}
	next, err := b.incremental(state, m)
	if err != nil || b.Changed != 0 || b.Chains != 0 || !reflect.DeepEqual(next, state) {
		t.Fatalf("unchanged model: %+v, %v; want nothing to write", b.syncStats, err)
	}

	m.Services[7].Endpoints = m.Services[7].Endpoints[:5]
	m.Services = append(m.Services[:9:9], m.Services[10:]...)
	b = &batch{c: c, r: r}
	next, err = b.incremental(state, m)
	if err != nil {
		t.Fatal(err)
	}
	// Service 7: its service chain and 5 endpoint chains; service 9: removed.
	if b.Changed != 2 || b.Chains != 6 || len(next) != 999 {
		t.Fatalf("one change and one removal: %+v, %d service ports; want 2 changed, 6 chains written, 999 left", b.syncStats, len(next))
	}
}
