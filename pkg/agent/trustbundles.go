package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"sort"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// trustBundleFiles renders a clusterTrustBundle projection: the trust
// anchors of one ClusterTrustBundle by name, or of every bundle of a signer
// that the label selector matches (a nil selector matches none, an empty
// one all), as upstream's kubelet does. A bundle that is missing, or a
// selection that matches nothing, is an empty file when the source is
// optional and keeps the pod from starting when it is not.
func (a *Agent) trustBundleFiles(ctx context.Context, src *corev1.ClusterTrustBundleProjection) ([]volumeFile, error) {
	optional := src.Optional != nil && *src.Optional
	var bundles []*certificatesv1.ClusterTrustBundle
	switch {
	case src.Name != nil:
		ctb, err := a.client.CertificatesV1().ClusterTrustBundles().Get(ctx, *src.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && optional:
			return []volumeFile{{path: src.Path, data: []byte{}}}, nil
		case apierrors.IsNotFound(err):
			return nil, configErrorf("while getting ClusterTrustBundle: %v", err)
		case err != nil:
			return nil, fmt.Errorf("while getting ClusterTrustBundle: %w", err)
		}
		bundles = append(bundles, ctb)
	case src.SignerName != nil:
		selector, err := metav1.LabelSelectorAsSelector(src.LabelSelector)
		if err != nil {
			return nil, configErrorf("while parsing label selector: %v", err)
		}
		if !isNothing(selector) {
			list, err := a.client.CertificatesV1().ClusterTrustBundles().List(ctx, metav1.ListOptions{
				LabelSelector: selector.String(), FieldSelector: fields.OneTermEqualSelector("spec.signerName", *src.SignerName).String(),
			})
			if err != nil {
				return nil, fmt.Errorf("while listing ClusterTrustBundles matching label selector %v: %w", src.LabelSelector, err)
			}
			for i := range list.Items {
				ctb := &list.Items[i]
				if ctb.Spec.SignerName == *src.SignerName && selector.Matches(labels.Set(ctb.Labels)) {
					bundles = append(bundles, ctb)
				}
			}
		}
		if len(bundles) == 0 {
			if optional {
				return []volumeFile{{path: src.Path, data: []byte{}}}, nil
			}
			return nil, configErrorf("combination of signerName and labelSelector matched zero ClusterTrustBundles")
		}
	default:
		return nil, configErrorf("ClusterTrustBundle projection requires either name or signerName to be set")
	}
	return []volumeFile{{path: src.Path, data: a.anchors.normalize(bundles)}}, nil
}

// isNothing is true for the selector a nil LabelSelector becomes, which
// selects no object (its String is "", which a List would read as all).
func isNothing(s labels.Selector) bool {
	_, selectable := s.Requirements()
	return !selectable
}

// anchorOrder gives trust anchors upstream's order: each certificate once,
// in an order that stays the same while the agent runs (so that a refresh
// rewrites nothing) and changes when it restarts, so that no client comes
// to depend on it.
type anchorOrder struct {
	once sync.Once
	seed [16]byte
}

func (o *anchorOrder) normalize(bundles []*certificatesv1.ClusterTrustBundle) []byte {
	o.once.Do(func() { _, _ = rand.Read(o.seed[:]) })
	type anchor struct {
		der  []byte
		rank [32]byte
	}
	seen := map[string]bool{}
	var anchors []anchor
	for _, ctb := range bundles {
		rest := []byte(ctb.Spec.TrustBundle)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if seen[string(b.Bytes)] {
				continue
			}
			seen[string(b.Bytes)] = true
			anchors = append(anchors, anchor{der: b.Bytes, rank: sha256.Sum256(append(o.seed[:], b.Bytes...))})
		}
	}
	sort.Slice(anchors, func(i, j int) bool { return bytes.Compare(anchors[i].rank[:], anchors[j].rank[:]) < 0 })
	out := []byte{}
	for _, an := range anchors {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: an.der})...)
	}
	return out
}
