package serviceaccounttoken

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Issuer signs the legacy tokens; *serviceaccount.Issuer is one.
type Issuer interface {
	IssueLegacy(serviceaccount.LegacyClaims) (string, error)
}

// Options tune the controller.
type Options struct {
	// Issuer signs the tokens. Required: it must sign with the key the API
	// server verifies service account tokens with.
	Issuer Issuer
	// CA is the PEM bundle written as ca.crt (the cluster CA's certificate);
	// none is written when empty.
	CA []byte
	// Workers is how many Secrets are synced at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// Controller fills and removes service-account token Secrets.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	// own is the controller's own factory: its one informer lists and
	// watches the token Secrets alone, so that no other Secret in the
	// cluster is cached here. Run starts it.
	own      informers.SharedInformerFactory
	secrets  corelisters.SecretLister
	accounts corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	// queue holds "namespace/name" of Secrets to fill or delete;
	// references "namespace/account/secret/account-uid" of deleted Secrets
	// to take out of their account's secrets list.
	queue      workqueue.TypedRateLimitingInterface[string]
	references workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers and handlers (the service
// accounts' on factory); the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	own := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
	}))
	secInf := own.Core().V1().Secrets()
	saInf := factory.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   client,
		opts:     opts,
		log:      opts.Logger.With("controller", "serviceaccounttoken"),
		own:      own,
		secrets:  secInf.Lister(),
		accounts: saInf.Lister(),
		synced:   []cache.InformerSynced{secInf.Informer().HasSynced, saInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccounttoken"}),
		references: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccounttoken_references"}),
	}
	_, _ = secInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueSecret(obj) },
		UpdateFunc: func(_, cur any) { c.enqueueSecret(cur) },
		DeleteFunc: func(obj any) { c.enqueueReference(obj) },
	})
	_, _ = saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// Only a deletion can leave tokens without their account: a new
		// account has none yet (a Secret naming it before it existed was
		// deleted, as upstream's).
		DeleteFunc: func(obj any) {
			if sa, ok := controller.Deleted[*corev1.ServiceAccount](obj); ok {
				c.enqueueTokensOf(sa)
			}
		},
	})
	return c
}

// isToken tells the Secrets this controller looks after; the type is
// checked again, as the field selector is the server's to honour.
func isToken(obj any) (*corev1.Secret, bool) {
	s, ok := controller.Deleted[*corev1.Secret](obj)
	if !ok || s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] == "" {
		return nil, false
	}
	return s, true
}

func (c *Controller) enqueueSecret(obj any) {
	if s, ok := isToken(obj); ok {
		c.queue.Add(s.Namespace + "/" + s.Name)
	}
}

// enqueueReference queues a deleted Secret for its account's secrets list.
// An account name with a slash names no account (and would break the key).
func (c *Controller) enqueueReference(obj any) {
	s, ok := isToken(obj)
	if !ok || strings.Contains(s.Annotations[corev1.ServiceAccountNameKey], "/") {
		return
	}
	c.references.Add(strings.Join([]string{s.Namespace, s.Annotations[corev1.ServiceAccountNameKey], s.Name, s.Annotations[corev1.ServiceAccountUIDKey]}, "/"))
}

// enqueueTokensOf queues the tokens of a deleted account, for deletion.
func (c *Controller) enqueueTokensOf(sa *corev1.ServiceAccount) {
	list, err := c.secrets.Secrets(sa.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range list {
		if forAccount(s, sa) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// forAccount is upstream's IsServiceAccountToken: the Secret names the
// account, and its UID unless it names none.
func forAccount(s *corev1.Secret, sa *corev1.ServiceAccount) bool {
	if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != sa.Name {
		return false
	}
	uid := s.Annotations[corev1.ServiceAccountUIDKey]
	return uid == "" || uid == string(sa.UID)
}

// Run keeps the tokens until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.references.ShutDown()
	if c.opts.Issuer == nil {
		return errors.New("service account tokens controller: no issuer to sign tokens with")
	}
	c.own.Start(ctx.Done())
	defer c.own.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		workers.Run(ctx, c.references, 1, c.syncReference, func(key string, err error) {
			c.log.Info("removing a deleted token from its service account failed; retrying", "key", key, "err", err)
		})
	})
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("syncing a service account token failed; retrying", "secret", key, "err", err)
	})
	wg.Wait()
	return nil
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	s, err := c.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := isToken(s); !ok {
		return nil
	}
	sa, err := c.account(ctx, ns, s.Annotations[corev1.ServiceAccountNameKey], s.Annotations[corev1.ServiceAccountUIDKey])
	if err != nil {
		return err
	}
	if sa == nil {
		return c.delete(ctx, s)
	}
	return c.fill(ctx, sa, s)
}

// account is the service account a token is for, nil when there is none
// with that UID (uid "" matches any). The cache may not have an account
// just created: the server is asked before a token is deleted for it.
func (c *Controller) account(ctx context.Context, ns, name, uid string) (*corev1.ServiceAccount, error) {
	sa, err := c.accounts.ServiceAccounts(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if sa != nil && (uid == "" || uid == string(sa.UID)) {
		return sa, nil
	}
	sa, err = c.client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if uid == "" || uid == string(sa.UID) {
		return sa, nil
	}
	return nil, nil
}

// delete removes a token whose account is gone; the UID precondition keeps
// a Secret recreated meanwhile under the same name.
func (c *Controller) delete(ctx context.Context, s *corev1.Secret) error {
	c.log.Debug("service account is gone; deleting its token", "namespace", s.Namespace, "secret", s.Name,
		"serviceaccount", s.Annotations[corev1.ServiceAccountNameKey])
	err := c.client.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(s.UID))})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// missing says what of token, ca.crt and namespace s lacks; a ca.crt of
// another CA counts as missing (the CA has changed), another token does not.
func (c *Controller) missing(s *corev1.Secret) (token, ca, namespace bool) {
	return len(s.Data[corev1.ServiceAccountTokenKey]) == 0,
		len(c.opts.CA) > 0 && !bytes.Equal(s.Data[corev1.ServiceAccountRootCAKey], c.opts.CA),
		len(s.Data[corev1.ServiceAccountNamespaceKey]) == 0
}

// fill writes what the Secret lacks, on the server's copy, again when
// someone else wrote it in between.
func (c *Controller) fill(ctx context.Context, sa *corev1.ServiceAccount, cached *corev1.Secret) error {
	if token, ca, ns := c.missing(cached); !token && !ca && !ns {
		return nil
	}
	secrets := c.client.CoreV1().Secrets(cached.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := secrets.Get(ctx, cached.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		// Another Secret by now, or one for another account: its own
		// event brings it here again.
		if s.UID != cached.UID || s.Annotations[corev1.ServiceAccountNameKey] != sa.Name ||
			(s.Annotations[corev1.ServiceAccountUIDKey] != "" && s.Annotations[corev1.ServiceAccountUIDKey] != string(sa.UID)) {
			return nil
		}
		token, ca, ns := c.missing(s)
		if !token && !ca && !ns {
			return nil
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		if token {
			tok, err := c.opts.Issuer.IssueLegacy(serviceaccount.LegacyClaims{
				Namespace:      s.Namespace,
				ServiceAccount: serviceaccount.Ref{Name: sa.Name, UID: string(sa.UID)},
				SecretName:     s.Name,
			})
			if err != nil {
				return err
			}
			s.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
		}
		if ca {
			s.Data[corev1.ServiceAccountRootCAKey] = c.opts.CA
		}
		if ns {
			s.Data[corev1.ServiceAccountNamespaceKey] = []byte(s.Namespace)
		}
		s.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// syncReference takes a deleted token Secret out of its account's secrets
// list, unless a Secret of that name exists again.
func (c *Controller) syncReference(ctx context.Context, key string) error {
	parts := strings.SplitN(key, "/", 4)
	if len(parts) != 4 {
		return nil
	}
	ns, saName, name, saUID := parts[0], parts[1], parts[2], types.UID(parts[3])
	if _, err := c.secrets.Secrets(ns).Get(name); err == nil {
		return nil
	}
	accounts := c.client.CoreV1().ServiceAccounts(ns)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sa, err := accounts.Get(ctx, saName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if saUID != "" && saUID != sa.UID {
			return nil
		}
		kept := sa.Secrets[:0:0]
		for _, ref := range sa.Secrets {
			if ref.Name != name {
				kept = append(kept, ref)
			}
		}
		if len(kept) == len(sa.Secrets) {
			return nil
		}
		sa.Secrets = kept
		_, err = accounts.Update(ctx, sa, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}
