// Package bench measures the API server the way a user feels it: a real skiff
// server process driven over HTTPS by client-go. Run with `make bench`.
package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/test/harness"
)

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench", "run": "kubia"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "kubia", Image: "luksa/kubia",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}

func reportLatency(b *testing.B, lat []time.Duration) {
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// BenchmarkAPI measures sequential create and get latency, LIST of 10,000 pods as
// JSON and as a Table, and the server's resident memory idle and holding them:
// for the API server alone (--disable-controllers, what kube-apiserver's figures
// describe) and for the whole server with its control loops.
func BenchmarkAPI(b *testing.B) {
	b.Run("APIServerOnly", func(b *testing.B) { benchAPI(b, "--disable-controllers") })
	b.Run("WithControlLoops", func(b *testing.B) { benchAPI(b) })
}

func benchAPI(b *testing.B, flags ...string) {
	p := harness.StartProcess(b, "", flags...)
	ctx := context.Background()
	pods := p.Client.CoreV1().Pods("default")
	// Pods run as their namespace's default service account, which the
	// controllers make; the API server alone needs it made by hand.
	defaultAccount := func(ns string) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
		if _, err := p.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	defaultAccount("default")
	time.Sleep(2 * time.Second) // let start-up garbage be collected before "idle"
	b.Run("RSSIdle", func(b *testing.B) {
		m := p.Memory(b)
		b.ReportMetric(float64(m.RSS)/(1<<20), "rss-MB")
		b.ReportMetric(float64(m.Anon)/(1<<20), "anon-MB")
	})
	b.Run("CreateSequential", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := pods.Create(ctx, pod(fmt.Sprintf("seq-%d-%d", b.N, i)), metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
	b.Run("GetSequential", func(b *testing.B) {
		if _, err := pods.Create(ctx, pod("get-target"), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := pods.Get(ctx, "get-target", metav1.GetOptions{}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
	// The same GET by a service account that RBAC lets view the namespace,
	// among 1,000 other RoleBindings: a bearer token checked and an RBAC
	// decision made on each request.
	b.Run("GetSequentialAsServiceAccount", func(b *testing.B) {
		reader := serviceAccountClient(b, p, "default", "reader", 1000)
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := reader.CoreV1().Pods("default").Get(ctx, "get-target", metav1.GetOptions{}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
	// Fill to 10,000 pods in one namespace.
	if _, err := p.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ten-k"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defaultAccount("ten-k")
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := p.Client.CoreV1().Pods("ten-k").Create(ctx, pod(fmt.Sprintf("kubia-%05d", i)), metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	fill := time.Now()
	for i := 0; i < 10000; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.Logf("created 10,000 pods with 32 concurrent clients in %v (%.0f creates/s)", time.Since(fill), 10000/time.Since(fill).Seconds())
	list := func(b *testing.B, accept string) {
		rc := p.Client.CoreV1().RESTClient()
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			body, err := rc.Get().AbsPath("/api/v1/namespaces/ten-k/pods").SetHeader("Accept", accept).DoRaw(ctx)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			b.SetBytes(int64(len(body)))
		}
		reportLatency(b, lat)
	}
	b.Run("List10kJSON", func(b *testing.B) { list(b, "application/json") })
	b.Run("List10kTable", func(b *testing.B) {
		list(b, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	})
	b.Run("RSS10kPods", func(b *testing.B) {
		m := p.Memory(b)
		b.ReportMetric(float64(m.RSS)/(1<<20), "rss-MB")
		b.ReportMetric(float64(m.Anon)/(1<<20), "anon-MB")
	})
}

// serviceAccountClient makes a service account allowed to view namespace ns
// (a RoleBinding to the view ClusterRole, after noise other bindings of
// other subjects) and returns a client with a token of it.
func serviceAccountClient(b *testing.B, p *harness.Process, ns, name string, noise int) kubernetes.Interface {
	b.Helper()
	ctx := context.Background()
	rbac := p.Client.RbacV1().RoleBindings(ns)
	for i := 0; i < noise; i++ {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("noise-%d", i)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("user-%d", i)}},
		}
		if _, err := rbac.Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := p.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}
	if _, err := rbac.Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	tr, err := p.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(p.Config)
	cfg.BearerToken = tr.Status.Token
	client := kubernetes.NewForConfigOrDie(cfg)
	// The authorizer learns the binding from its informer.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			b.Fatalf("the service account may not view %s: %v", ns, err)
		}
	}
}
