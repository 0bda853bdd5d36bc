package serviceaccount_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/serviceaccount"
	"github.com/skiffhq/skiff/test/harness"
)

func TestEveryNamespaceGetsADefaultServiceAccount(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	sac := serviceaccount.New(c.Client, factory, serviceaccount.Options{})
	controllertest.Run(t, factory, sac)
	ctx := t.Context()

	defaultSA := func(ns string) (types.UID, string) {
		sa, err := c.Client.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
		if err != nil {
			return "", err.Error()
		}
		return sa.UID, ""
	}
	// Namespaces that existed before the controller started get one too.
	for _, ns := range []string{"default", "kube-system"} {
		controllertest.Eventually(t, "default ServiceAccount in "+ns, func() (bool, string) { uid, e := defaultSA(ns); return uid != "", e })
	}
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	c.MustRun(t, k, "", "create", "namespace", "team-a")
	var first types.UID
	controllertest.Eventually(t, "default ServiceAccount in team-a", func() (bool, string) {
		var e string
		first, e = defaultSA("team-a")
		return first != "", e
	})
	out := c.MustRun(t, k, "", "get", "serviceaccounts", "-n", "team-a", "-o", "name")
	if out != "serviceaccount/default\n" {
		t.Errorf("kubectl get sa printed %q", out)
	}
	c.MustRun(t, k, "", "delete", "serviceaccount", "default", "-n", "team-a")
	controllertest.Eventually(t, "the default ServiceAccount recreated", func() (bool, string) {
		uid, e := defaultSA("team-a")
		return uid != "" && uid != first, fmt.Sprint(uid, e)
	})
	// Other accounts are the user's business.
	if _, err := c.Client.CoreV1().ServiceAccounts("team-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.MustRun(t, k, "", "delete", "serviceaccount", "builder", "-n", "team-a")
	if list, _ := c.Client.CoreV1().ServiceAccounts("team-a").List(ctx, metav1.ListOptions{}); len(list.Items) != 1 {
		t.Errorf("%d accounts in team-a, want default alone", len(list.Items))
	}
}
