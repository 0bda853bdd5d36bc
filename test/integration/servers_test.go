package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/server"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/pkg/storage/memory"
	"github.com/skiffhq/skiff/test/harness"
)

// TestServersShareStorage: two servers on one datastore serve the same
// objects; the control loops run on one of them at a time, named by the
// kube-controller-manager Lease, and move to the other when it stops; the
// kubernetes Service's endpoints list the servers that are up.
func TestServersShareStorage(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		store := memory.New()
		serversShareStorage(t, func(o *harness.Options) { o.Storage = store })
	})
	// A real etcd, which each server reaches with its own client.
	t.Run("etcd", func(t *testing.T) {
		e := etcdtest.Start(t, t.TempDir(), false)
		serversShareStorage(t, func(o *harness.Options) {
			o.Datastore = server.Datastore{Endpoints: []string{e.Endpoint}, Prefix: "/skiff"}
		})
	})
}

func serversShareStorage(t *testing.T, datastore func(*harness.Options)) {
	election := server.LeaderElection{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}
	// The addresses they advertise are documentation's (TEST-NET-1): the
	// endpoints only name them; the test reaches the servers on loopback.
	start := func(name, ip, token string) *harness.Cluster {
		opts := harness.Options{ServerName: name, AdvertiseIP: ip, Token: token, LeaderElection: election}
		datastore(&opts)
		return harness.StartCluster(t, opts)
	}
	s1 := start("server-1", "192.0.2.1", "")
	// The second joins with the first's token: it takes the cluster's keys
	// from the datastore, so either server's credentials work on both.
	token, err := os.ReadFile(filepath.Join(s1.DataDir, "server", "server-token"))
	if err != nil {
		t.Fatal(err)
	}
	s2 := start("server-2", "192.0.2.2", string(token))
	for _, pair := range [][2]*harness.Cluster{{s1, s2}, {s2, s1}} {
		cfg := rest.CopyConfig(pair[0].Config)
		cfg.Host = pair[1].Config.Host
		other, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("%s's admin credentials at %s: %v", pair[0].DataDir, pair[1].Config.Host, err)
		}
	}
	ctx := context.Background()

	holder := func(c kubernetes.Interface) string { return loopsLeader(ctx, c) }
	eventually(t, "server-1 leading the control loops", 10*time.Second, func() (bool, string) {
		h := holder(s2.Client)
		return h == "server-1", h
	})
	endpoints := func(c kubernetes.Interface) []string {
		ep, err := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, s := range ep.Subsets {
			for _, a := range s.Addresses {
				for _, p := range s.Ports {
					out = append(out, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
				}
			}
		}
		slices.Sort(out)
		return out
	}
	addr := func(c *harness.Cluster, ip string) string { return net.JoinHostPort(ip, strconv.Itoa(c.Port)) }
	both := []string{addr(s1, "192.0.2.1"), addr(s2, "192.0.2.2")}
	slices.Sort(both)
	eventually(t, "the kubernetes endpoints listing both servers", 10*time.Second, func() (bool, string) {
		got := endpoints(s1.Client)
		return slices.Equal(got, both), fmt.Sprint(got)
	})

	// A write through one server is read through the other, and the loops
	// (on server-1) act on what server-2 took in.
	replicate := func(c kubernetes.Interface, name string) {
		t.Helper()
		rc := &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ReplicationControllerSpec{
				Replicas: ptr.To[int32](2),
				Selector: map[string]string{"app": name},
				Template: &corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
				},
			},
		}
		if _, err := c.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods := func(c kubernetes.Interface, app string) int {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return -1
		}
		return len(l.Items)
	}
	replicate(s2.Client, "first")
	eventually(t, "server-1's loops making server-2's RC's pods", 10*time.Second, func() (bool, string) {
		n := pods(s2.Client, "first")
		return n == 2, fmt.Sprint(n, " pods")
	})

	// Services made through both servers at once never share an address
	// or a node port.
	svcs := concurrentServices(t, []kubernetes.Interface{s1.Client, s2.Client}, 15)
	for _, what := range []string{"ClusterIP", "NodePort"} {
		var taken []string
		for _, svc := range svcs {
			if what == "ClusterIP" {
				taken = append(taken, svc.Spec.ClusterIP)
			} else {
				taken = append(taken, fmt.Sprint(svc.Spec.Ports[0].NodePort))
			}
		}
		if dup := firstDuplicate(taken); dup != "" {
			t.Errorf("two Services got %s %s: %v", what, dup, taken)
		}
	}

	// server-1 stops: server-2 takes over the loops at once (a stopping
	// server releases its lease) and the endpoints name server-2 alone.
	stopped := time.Now()
	s1.Stop()
	eventually(t, "server-2 leading", 5*time.Second, func() (bool, string) {
		h := holder(s2.Client)
		return h == "server-2", h
	})
	t.Logf("server-2 leads %v after server-1 was told to stop", time.Since(stopped).Round(10*time.Millisecond))
	eventually(t, "the kubernetes endpoints listing server-2 alone", 5*time.Second, func() (bool, string) {
		got := endpoints(s2.Client)
		return slices.Equal(got, []string{addr(s2, "192.0.2.2")}), fmt.Sprint(got)
	})
	replicate(s2.Client, "second")
	eventually(t, "server-2's loops making pods", 10*time.Second, func() (bool, string) {
		n := pods(s2.Client, "second")
		return n == 2, fmt.Sprint(n, " pods")
	})
}

// concurrentServices creates n NodePort Services through each client at once
// and returns them as made.
func concurrentServices(t *testing.T, clients []kubernetes.Interface, n int) []*corev1.Service {
	t.Helper()
	type result struct {
		svc *corev1.Service
		err error
	}
	results := make(chan result, n*len(clients))
	for ci, c := range clients {
		for i := range n {
			go func() {
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d-%d", ci, i)},
					Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
				}
				got, err := c.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
				results <- result{got, err}
			}()
		}
	}
	var out []*corev1.Service
	for range n * len(clients) {
		r := <-results
		if r.err != nil {
			t.Fatalf("creating a Service: %v", r.err)
		}
		out = append(out, r.svc)
	}
	return out
}

func firstDuplicate(s []string) string {
	seen := map[string]bool{}
	for _, v := range s {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

// loopsLeader is the name of the server holding the control loops' Lease
// (its identity is NAME_INSTANCE-ID), or the error reading it.
func loopsLeader(ctx context.Context, c kubernetes.Interface) string {
	l, err := c.CoordinationV1().Leases("kube-system").Get(ctx, server.ControllersLease, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	name, _, _ := strings.Cut(ptr.Deref(l.Spec.HolderIdentity, ""), "_")
	return name
}
