package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"
)

// DefaultDomain is the cluster domain when none is given.
const DefaultDomain = "cluster.local"

// maxUDPSize bounds the answers sent over UDP, whatever a client's EDNS
// buffer says (the size DNS flag day 2020 settled on).
const maxUDPSize = 1232

// Options configure a Server.
type Options struct {
	// Domain is the cluster domain (cluster.local).
	Domain string
	// Listen are the addresses served over UDP and TCP ("10.42.0.1:53");
	// an address need not exist yet (a bridge not yet up).
	Listen []string
	// Upstreams are the resolvers other names go to ("ip:port"); without
	// them, ResolvConf's nameservers (re-read when it changes).
	Upstreams  []string
	ResolvConf string
	// ServiceIP is the kube-dns Service's address: the zone's name server
	// (ns.dns.<zone>), and never an upstream.
	ServiceIP string
	Logger    *slog.Logger
}

// Server is one node's cluster DNS server.
type Server struct {
	opts    Options
	zone    *zone
	fwd     *forwarder
	factory informers.SharedInformerFactory
	synced  []toolscache.InformerSynced
	log     *slog.Logger

	ready   chan struct{}
	mu      sync.Mutex
	addrs   []net.Addr
	servers []*dns.Server
}

// New makes a server fed by factory's Service and EndpointSlice informers.
func New(factory informers.SharedInformerFactory, opts Options) (*Server, error) {
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.ResolvConf == "" {
		opts.ResolvConf = "/etc/resolv.conf"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	origin := dns.Fqdn(strings.ToLower(opts.Domain))
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("cluster domain %q is not a domain name", opts.Domain)
	}
	z := &zone{origin: origin, idx: newIndex()}
	skip := []string{}
	if opts.ServiceIP != "" {
		ip, err := netip.ParseAddr(opts.ServiceIP)
		if err != nil {
			return nil, fmt.Errorf("cluster DNS address %q: %w", opts.ServiceIP, err)
		}
		z.nsAddr = ip
		skip = append(skip, ip.String())
	}
	for _, l := range opts.Listen {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", l, err)
		}
		skip = append(skip, host)
	}
	s := &Server{
		opts: opts, zone: z, fwd: newForwarder(opts.Upstreams, opts.ResolvConf, skip),
		factory: factory, log: log, ready: make(chan struct{}),
	}
	svcs := factory.Core().V1().Services().Informer()
	eps := factory.Discovery().V1().EndpointSlices().Informer()
	if _, err := svcs.AddEventHandler(handler(func(s *corev1.Service) { z.idx.setService(s.Namespace, s.Name, s) }, z.idx.deleteService)); err != nil {
		return nil, err
	}
	if _, err := eps.AddEventHandler(handler(func(s *discoveryv1.EndpointSlice) { z.idx.setSlice(s.Namespace, s.Name, s) }, z.idx.deleteSlice)); err != nil {
		return nil, err
	}
	s.synced = []toolscache.InformerSynced{svcs.HasSynced, eps.HasSynced}
	return s, nil
}

// handler feeds one kind into the index.
func handler[T interface {
	*corev1.Service | *discoveryv1.EndpointSlice
	GetNamespace() string
	GetName() string
}](set func(T), del func(ns, name string)) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { set(obj.(T)) },
		UpdateFunc: func(_, obj any) { set(obj.(T)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if o, ok := obj.(T); ok {
				del(o.GetNamespace(), o.GetName())
			}
		},
	}
}

// Ready is closed once the caches are filled and the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs are the UDP addresses served (with the ports chosen for port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Run fills the caches, then serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return ctx.Err()
	}
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for _, l := range s.opts.Listen {
		if err := s.listen(ctx, l, &wg, errc); err != nil {
			s.shutdown()
			wg.Wait()
			return err
		}
	}
	s.log.Info("cluster DNS serving", "domain", s.opts.Domain, "addresses", s.opts.Listen)
	close(s.ready)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	wg.Wait()
	return err
}

// listen serves addr over UDP, on one socket per CPU sharing the port
// (SO_REUSEPORT: the kernel spreads queries over them), and over TCP.
func (s *Server) listen(ctx context.Context, addr string, wg *sync.WaitGroup, errc chan<- error) error {
	lc := net.ListenConfig{Control: socketOptions}
	var conns []net.PacketConn
	for i := range runtime.GOMAXPROCS(0) {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return fmt.Errorf("cluster DNS on %s/udp: %w", addr, err)
		}
		if i == 0 {
			// Port 0 asks for a port: every other socket takes the same.
			addr = pc.LocalAddr().String()
		}
		conns = append(conns, pc)
	}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return fmt.Errorf("cluster DNS on %s/tcp: %w", addr, err)
	}
	s.mu.Lock()
	s.addrs = append(s.addrs, conns[0].LocalAddr())
	for _, pc := range conns {
		s.servers = append(s.servers, &dns.Server{PacketConn: pc, Handler: s, UDPSize: dns.DefaultMsgSize})
	}
	s.servers = append(s.servers, &dns.Server{Listener: ln, Handler: s})
	servers := s.servers[len(s.servers)-len(conns)-1:]
	s.mu.Unlock()
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	return nil
}

func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		if err := srv.Shutdown(); err != nil {
			// Not started yet: its ActivateAndServe may be about to start, and
			// would then serve on forever. Closing its socket ends it either way.
			if srv.Listener != nil {
				_ = srv.Listener.Close()
			}
			if srv.PacketConn != nil {
				_ = srv.PacketConn.Close()
			}
		}
	}
	s.servers = nil
}

// socketOptions lets a socket bind an address the node does not have yet
// (IP_FREEBIND: the pod bridge gets its address with the first pod) and
// share its port with the other sockets of this server (SO_REUSEPORT).
func socketOptions(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// ServeDNS answers one query: from the cluster's names, else through the
// node's resolvers.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_, overTCP := w.RemoteAddr().(*net.TCPAddr)
	m := s.reply(r, overTCP)
	if !overTCP {
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// reply is the answer to r.
func (s *Server) reply(r *dns.Msg, overTCP bool) *dns.Msg {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		return m.SetRcode(r, dns.RcodeFormatError)
	}
	if r.Opcode != dns.OpcodeQuery {
		return m.SetRcode(r, dns.RcodeNotImplemented)
	}
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	if (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) || !s.zone.answer(m, q) {
		m = s.fwd.resolve(r, overTCP)
	} else {
		s.chase(m, r, overTCP)
	}
	if opt := r.IsEdns0(); opt != nil && m.IsEdns0() == nil {
		m.SetEdns0(maxUDPSize, opt.Do())
	}
	return m
}

// maxChase bounds how many aliases an answer follows.
const maxChase = 8

// chase completes an ExternalName Service's alias as a recursive resolver
// does: the target's records (from the zone, or forwarded) follow the CNAME,
// so a client that does not chase aliases itself still gets addresses.
func (s *Server) chase(m, r *dns.Msg, overTCP bool) {
	q := r.Question[0]
	if q.Qtype == dns.TypeCNAME || q.Qtype == dns.TypeANY {
		return
	}
	for range maxChase {
		if len(m.Answer) == 0 {
			return
		}
		cname, ok := m.Answer[len(m.Answer)-1].(*dns.CNAME)
		if !ok {
			return
		}
		next := r.Copy()
		next.Question[0].Name = cname.Target
		t := new(dns.Msg)
		t.SetReply(next)
		if !s.zone.answer(t, next.Question[0]) {
			t = s.fwd.resolve(next, overTCP)
		}
		m.Answer = append(m.Answer, t.Answer...)
		m.Rcode = t.Rcode
		if len(t.Answer) == 0 {
			m.Ns = t.Ns
			return
		}
	}
}
