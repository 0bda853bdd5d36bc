package csrsigning

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	validation "github.com/skiffhq/skiff/pkg/api/validation/certificates"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// CA signs certificates for keys it never sees (pki.CA does).
type CA interface {
	SignTemplate(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error)
}

// Options tune the signing controller.
type Options struct {
	// CA issues the certificates. Required.
	CA CA
	// Duration is the longest certificate issued, what a request gets when
	// it asks no duration (default a year, as upstream's
	// --cluster-signing-duration).
	Duration time.Duration
	// Workers is how many requests are signed at once (default 5).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is when certificates start (default: the real clock).
	Clock clock.PassiveClock
	// ReservedNames are the common names the cluster's own components hold
	// certificates of the same CA for (the API server's towards the node
	// agents): no request is signed for them, whatever its signer.
	ReservedNames []string
}

func (o *Options) setDefaults() {
	if o.Duration <= 0 {
		o.Duration = 365 * 24 * time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller is the CSR signing controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	csrs   certificateslisters.CertificateSigningRequestLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informer and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	inf := factory.Certificates().V1().CertificateSigningRequests()
	c := &Controller{
		client: client,
		opts:   opts,
		log:    opts.Logger,
		csrs:   inf.Lister(),
		synced: inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrsigning"}),
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	})
	return c
}

// Run signs approved requests until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if c.opts.CA == nil {
		return fmt.Errorf("csrsigning: no CA to sign with")
	}
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("signing a certificate signing request failed; retrying", "csr", key, "err", err)
	})
	return nil
}

func (c *Controller) enqueue(obj any) {
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok && ready(csr) {
		c.queue.Add(csr.Name)
	}
}

// ready reports whether a request waits for one of these signers: approved,
// neither denied nor failed, and not issued.
func ready(csr *certificatesv1.CertificateSigningRequest) bool {
	if len(csr.Status.Certificate) > 0 || checks[csr.Spec.SignerName] == nil {
		return false
	}
	approved := false
	for _, cond := range csr.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateDenied:
			return false
		case certificatesv1.CertificateFailed:
			// A Failed condition without a status is taken as true, as upstream.
			if cond.Status == "" || cond.Status == corev1.ConditionTrue {
				return false
			}
		case certificatesv1.CertificateApproved:
			approved = true
		}
	}
	return approved
}

// sync signs one request, or marks it Failed when its signer may not sign it.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.csrs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ready(cached) {
		return nil
	}
	csr := cached.DeepCopy()
	req, err := validation.ParseRequest(csr.Spec.Request)
	if err != nil {
		return fmt.Errorf("certificate signing request %q: %w", name, err)
	}
	check := checks[csr.Spec.SignerName]
	if slices.Contains(c.opts.ReservedNames, req.Subject.CommonName) {
		check = func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error {
			return fmt.Errorf("subject common name %q is reserved for the cluster's own components", req.Subject.CommonName)
		}
	}
	if err := check(req, csr.Spec.Usages); err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue,
			Reason: "SignerValidationFailure", Message: err.Error(), LastUpdateTime: metav1.NewTime(c.opts.Clock.Now()),
		})
		if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("marking certificate signing request %q failed: %w", name, err)
		}
		c.log.Info("refused a certificate signing request", "csr", name, "signer", csr.Spec.SignerName, "reason", err.Error())
		return nil
	}
	tmpl, err := template(req, csr.Spec.Usages, c.duration(csr.Spec.ExpirationSeconds), c.opts.Clock.Now())
	if err != nil {
		return fmt.Errorf("certificate signing request %q: %w", name, err)
	}
	cert, err := c.opts.CA.SignTemplate(tmpl, req.PublicKey)
	if err != nil {
		return fmt.Errorf("signing certificate signing request %q: %w", name, err)
	}
	csr.Status.Certificate = cert
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("issuing the certificate of certificate signing request %q: %w", name, err)
	}
	c.log.Debug("issued a certificate", "csr", name, "signer", csr.Spec.SignerName, "subject", req.Subject.String(), "until", tmpl.NotAfter)
	return nil
}

// minDuration is the shortest certificate issued: twice the backdating.
const minDuration = 10 * time.Minute

// duration is how long a request's certificate lasts: what it asked,
// within [minDuration, Options.Duration].
func (c *Controller) duration(expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return c.opts.Duration
	}
	return min(max(time.Duration(*expirationSeconds)*time.Second, minDuration), c.opts.Duration)
}
