package csrcleaner

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// How long a request is kept in each state, as upstream.
const (
	decidedFor = time.Hour      // issued, denied or failed
	pendingFor = 24 * time.Hour // undecided, or approved and not issued
)

// Options tune the cleaner.
type Options struct {
	// Interval is how often requests are looked at (default an hour).
	Interval time.Duration
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock says how old requests are and paces the sweeps (default: the
	// real clock).
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller is the CSR cleaner.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	csrs   certificateslisters.CertificateSigningRequestLister
	synced cache.InformerSynced
}

// New registers the cleaner's informer on factory; the caller starts the
// factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	inf := factory.Certificates().V1().CertificateSigningRequests()
	return &Controller{client: client, opts: opts, log: opts.Logger, csrs: inf.Lister(), synced: inf.Informer().HasSynced}
}

// Run sweeps once the informer has synced, then every Interval, until ctx
// ends.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	tick := c.opts.Clock.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		c.sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
}

// sweep deletes every request that is done with.
func (c *Controller) sweep(ctx context.Context) {
	csrs, err := c.csrs.List(labels.Everything())
	if err != nil {
		c.log.Error("listing certificate signing requests", "err", err)
		return
	}
	now := c.opts.Clock.Now()
	for _, csr := range csrs {
		why := expired(csr, now)
		if why == "" {
			continue
		}
		if err := c.delete(ctx, csr); err != nil {
			c.log.Info("deleting a certificate signing request failed; the next sweep tries again", "csr", csr.Name, "err", err)
			continue
		}
		c.log.Info("deleted a certificate signing request", "csr", csr.Name, "reason", why)
	}
}

// delete removes csr if it is still the request that was judged.
func (c *Controller) delete(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	err := c.client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &csr.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting certificate signing request %q: %w", csr.Name, err)
	}
	return nil
}

// expired says why csr may go at now, or "" while it is kept.
func expired(csr *certificatesv1.CertificateSigningRequest, now time.Time) string {
	older := func(t metav1.Time, d time.Duration) bool { return !t.IsZero() && now.Sub(t.Time) > d }
	issued := len(csr.Status.Certificate) > 0
	for _, cond := range csr.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateApproved:
			switch {
			case issued && older(cond.LastUpdateTime, decidedFor):
				return "approved and issued more than an hour ago"
			case issued && certificateExpired(csr.Status.Certificate, now):
				return "its certificate has expired"
			case !issued && older(cond.LastUpdateTime, pendingFor):
				return "approved more than a day ago and never issued"
			}
		case certificatesv1.CertificateDenied:
			if older(cond.LastUpdateTime, decidedFor) {
				return "denied more than an hour ago"
			}
		case certificatesv1.CertificateFailed:
			if older(cond.LastUpdateTime, decidedFor) {
				return "failed more than an hour ago"
			}
		}
	}
	if len(csr.Status.Conditions) == 0 && older(csr.CreationTimestamp, pendingFor) {
		return "pending for more than a day"
	}
	return ""
}

// certificateExpired reports whether the first certificate of certPEM ended
// before now; one that cannot be read is not taken as expired.
func certificateExpired(certPEM []byte, now time.Time) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return false
	}
	certs, err := x509.ParseCertificates(block.Bytes)
	return err == nil && len(certs) > 0 && now.After(certs[0].NotAfter)
}
