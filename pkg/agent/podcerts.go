package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podCertCache holds the credentials of one pod's podCertificate volume
// sources, by volume name and source index; the pod's worker keeps it.
type podCertCache map[string]*podCert

// podCert is one podCertificate source: the key and chain its volume shows,
// the request waiting for its signer, or the refusal that ended it.
type podCert struct {
	key, chain []byte
	refreshAt  time.Time // the request's beginRefreshAt
	notAfter   time.Time

	pending        string // name of the PodCertificateRequest in flight
	pendingKey     []byte
	pendingAbandon time.Time

	// refused is set once a request was Denied or Failed: as upstream's
	// kubelet, Skiff asks no more for this pod.
	refused error
}

// podCertAbandonAfter is how long a request that cannot be found is waited
// for (the agent's own reads may lag its create) before a new one is made.
const podCertAbandonAfter = 10 * time.Minute

// podCertWait is how long a pod's start waits for its first certificate
// before reporting the volume as not ready and trying again.
var podCertWait = 5 * time.Second

// podCertFiles renders a podCertificate projection: a private key the agent
// made for the pod and the chain a signer issued for it through a
// PodCertificateRequest, as credentialBundlePath (key, then chain) and/or
// keyPath and certificateChainPath. A new key and request are made once the
// signer's beginRefreshAt has passed; until the new chain is issued the
// volume keeps the old one.
func (a *Agent) podCertFiles(ctx context.Context, refs *podRefs, pod *corev1.Pod, volume string, index int, src *corev1.PodCertificateProjection) ([]volumeFile, error) {
	id := fmt.Sprintf("%s/%d", volume, index)
	c := refs.certs[id]
	if c == nil {
		c = &podCert{}
		if refs.certs != nil {
			refs.certs[id] = c
		}
	}
	if err := a.advancePodCert(ctx, pod, src, c); err != nil {
		return nil, err
	}
	if c.chain == nil {
		return nil, fmt.Errorf("PodCertificateRequest %s/%s: credential bundle is not issued yet", pod.Namespace, c.pending)
	}
	var files []volumeFile
	if src.CredentialBundlePath != "" {
		files = append(files, volumeFile{path: src.CredentialBundlePath, data: append(append([]byte{}, c.key...), c.chain...)})
	}
	if src.KeyPath != "" {
		files = append(files, volumeFile{path: src.KeyPath, data: c.key})
	}
	if src.CertificateChainPath != "" {
		files = append(files, volumeFile{path: src.CertificateChainPath, data: c.chain})
	}
	return files, nil
}

// advancePodCert asks for a certificate when the source has none or its
// refresh time came, and reads what became of the request in flight,
// waiting a little for the first one.
func (a *Agent) advancePodCert(ctx context.Context, pod *corev1.Pod, src *corev1.PodCertificateProjection, c *podCert) error {
	if c.refused != nil {
		return c.refused
	}
	if c.pending == "" && (c.chain == nil || !timeNow().Before(c.refreshAt)) {
		if err := a.requestPodCert(ctx, pod, src, c); err != nil {
			return err
		}
	}
	if c.pending == "" {
		return nil
	}
	deadline := time.Now().Add(podCertWait)
	for {
		done, err := a.checkPodCert(ctx, pod, c)
		if err != nil || done || c.chain != nil || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// requestPodCert makes a key of the source's type and a PodCertificateRequest
// for it, bound to the pod, its service account and this node.
func (a *Agent) requestPodCert(ctx context.Context, pod *corev1.Pod, src *corev1.PodCertificateProjection, c *podCert) error {
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("while fetching service account: %w", err)
	}
	key, stub, err := keyAndProof(src.KeyType)
	if err != nil {
		return configErrorf("while generating keypair: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("while marshaling key to PKCS#8: %w", err)
	}
	req := &certificatesv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       pod.Namespace,
			GenerateName:    "req-",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}},
		},
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName:                src.SignerName,
			PodName:                   pod.Name,
			PodUID:                    pod.UID,
			ServiceAccountName:        saName,
			ServiceAccountUID:         sa.UID,
			NodeName:                  types.NodeName(a.opts.NodeName),
			NodeUID:                   a.registeredUID(),
			MaxExpirationSeconds:      src.MaxExpirationSeconds,
			StubPKCS10Request:         stub,
			UnverifiedUserAnnotations: src.UserAnnotations,
		},
	}
	created, err := a.client.CertificatesV1().PodCertificateRequests(pod.Namespace).Create(ctx, req, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return configErrorf("while creating PodCertificateRequest: %v", err)
		}
		return fmt.Errorf("while creating PodCertificateRequest: %w", err)
	}
	c.pending = created.Name
	c.pendingKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	c.pendingAbandon = timeNow().Add(podCertAbandonAfter)
	return nil
}

// checkPodCert reads the request in flight; done is true once it ended.
func (a *Agent) checkPodCert(ctx context.Context, pod *corev1.Pod, c *podCert) (done bool, err error) {
	pcr, err := a.client.CertificatesV1().PodCertificateRequests(pod.Namespace).Get(ctx, c.pending, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if timeNow().After(c.pendingAbandon) {
			name := c.pending
			c.pending, c.pendingKey = "", nil
			return true, fmt.Errorf("PodCertificateRequest %q appears to have been deleted", pod.Namespace+"/"+name)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("while getting PodCertificateRequest %q: %w", pod.Namespace+"/"+c.pending, err)
	}
	for _, cond := range pcr.Status.Conditions {
		switch cond.Type {
		case certificatesv1.PodCertificateRequestConditionTypeDenied:
			a.event(pod, corev1.EventTypeWarning, cond.Type, "PodCertificateRequest %s was denied, reason=%q, message=%q", pod.Namespace+"/"+pcr.Name, cond.Reason, cond.Message)
			c.refused = configErrorf("PodCertificateRequest was permanently denied: reason=%q message=%q", cond.Reason, cond.Message)
			c.pending, c.pendingKey = "", nil
			return true, c.refused
		case certificatesv1.PodCertificateRequestConditionTypeFailed:
			a.event(pod, corev1.EventTypeWarning, cond.Type, "PodCertificateRequest %s failed, reason=%q, message=%q", pod.Namespace+"/"+pcr.Name, cond.Reason, cond.Message)
			c.refused = configErrorf("PodCertificateRequest was permanently failed: reason=%q message=%q", cond.Reason, cond.Message)
			c.pending, c.pendingKey = "", nil
			return true, c.refused
		case certificatesv1.PodCertificateRequestConditionTypeIssued:
			c.key, c.chain = c.pendingKey, cleanChain(pcr.Status.CertificateChain)
			if pcr.Status.NotAfter != nil {
				c.notAfter = pcr.Status.NotAfter.Time
			}
			c.refreshAt = c.notAfter
			if pcr.Status.BeginRefreshAt != nil {
				c.refreshAt = pcr.Status.BeginRefreshAt.Time
			}
			c.pending, c.pendingKey = "", nil
			return true, nil
		}
	}
	return false, nil
}

// keyAndProof makes a private key of one of the podCertificate key types
// and the proof that the requester holds it: a PKCS#10 request with nothing
// in it, signed by the key.
func keyAndProof(keyType string) (crypto.Signer, []byte, error) {
	var (
		key crypto.Signer
		err error
	)
	switch keyType {
	case "RSA3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case "RSA4096":
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	case "ECDSAP256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSAP384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECDSAP521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ED25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("unknown key type %q", keyType)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("while generating %s key: %w", keyType, err)
	}
	stub, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("while generating stub PKCS#10 request: %w", err)
	}
	return key, stub, nil
}

// cleanChain keeps only the PEM blocks of a chain, as CERTIFICATE blocks
// without headers or text between them.
func cleanChain(in string) []byte {
	var out bytes.Buffer
	rest := []byte(in)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out.Bytes()
		}
		out.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}))
	}
}
