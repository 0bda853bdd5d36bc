package certificates

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/certificates"
	validation "github.com/skiffhq/skiff/pkg/api/validation/certificates"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(podCertificateRequests) }

type pcr = certificatesv1.PodCertificateRequest

var pcrResource = v1.WithResource("podcertificaterequests").GroupResource()

// podCertificateRequests are kubelets' requests for certificates their pods
// mount: the spec is the node's, fixed at create; the status is the
// signer's, written once through /status (who may sign is admission's
// business, which the server wires in).
func podCertificateRequests(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PodCertificateRequest"), "podcertificaterequests", "podcertificaterequest", true,
		func() runtime.Object { return &pcr{} }, func() runtime.Object { return &certificatesv1.PodCertificateRequestList{} },
		printers.PodCertificateRequest())
	r.Status = true
	r.RequireResourceVersion = true
	r.Admit = func(ctx context.Context, v apiserver.View, obj runtime.Object) error {
		return restrictNode(ctx, v, obj.(*pcr))
	}
	r.AdmitUpdate = func(ctx context.Context, _ apiserver.View, obj, _ runtime.Object) error {
		if node := nodeOf(ctx); node != "" {
			return apierrors.NewForbidden(pcrResource, obj.(*pcr).Name, errors.New("unexpected operation UPDATE"))
		}
		return nil
	}
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	r.Fields = func(obj runtime.Object) fields.Set {
		s := obj.(*pcr).Spec
		return fields.Set{"spec.signerName": s.SignerName, "spec.podName": s.PodName, "spec.nodeName": string(s.NodeName)}
	}
	kind.Hooks[*pcr]{
		Default:        validation.DefaultPodCertificateRequest,
		Validate:       validation.ValidatePodCertificateRequest,
		ValidateUpdate: validation.ValidatePodCertificateRequestUpdate,
		ValidateStatusUpdate: func(obj, old *pcr) field.ErrorList {
			return validation.ValidatePodCertificateRequestStatusUpdate(obj, old, time.Now())
		},
	}.Install(r)
	return r
}

// nodeOf is the node the request's user is, or "".
func nodeOf(ctx context.Context) string {
	u, _ := apiserver.UserFrom(ctx)
	return u.Node()
}

// restrictNode is upstream's NodeRestriction for pod certificate requests:
// a node asks only for a pod bound to it, by the node's, the pod's and its
// service account's names and UIDs as stored, for a signer one of the pod's
// podCertificate volumes names; never for a mirror pod. A UID that differs
// may be the caches lagging, so it is no Forbidden: the node may retry.
func restrictNode(ctx context.Context, v apiserver.View, r *pcr) error {
	node := nodeOf(ctx)
	if node == "" {
		return nil
	}
	forbid := func(format string, args ...any) error {
		return apierrors.NewForbidden(pcrResource, r.Name, fmt.Errorf(format, args...))
	}
	s, ns := &r.Spec, r.Namespace
	if string(s.NodeName) != node {
		return forbid("PodCertificateRequest.Spec.NodeName=%q, which is not the requesting node %q", s.NodeName, node)
	}
	n, _ := apiserver.GetObject(v, "v1", "nodes", "", node).(*corev1.Node)
	if n == nil {
		return fmt.Errorf("while retrieving node %q named in the PodCertificateRequest: %w", node, apierrors.NewNotFound(corev1.Resource("nodes"), node))
	}
	if n.UID != s.NodeUID {
		return fmt.Errorf("PodCertificateRequest for pod %q names node UID %q, inconsistent with the running node (%q)", ns+"/"+s.PodName, s.NodeUID, n.UID)
	}
	pod, _ := apiserver.GetObject(v, "v1", "pods", ns, s.PodName).(*corev1.Pod)
	if pod == nil {
		return fmt.Errorf("while retrieving pod %q named in the PodCertificateRequest: %w", ns+"/"+s.PodName, apierrors.NewNotFound(corev1.Resource("pods"), s.PodName))
	}
	if pod.UID != s.PodUID {
		return fmt.Errorf("PodCertificateRequest for pod %q contains pod UID (%q) which differs from running pod %q", ns+"/"+s.PodName, s.PodUID, string(pod.UID))
	}
	if pod.Spec.NodeName != node {
		return forbid("pod %q is not running on node %q named in the PodCertificateRequest", ns+"/"+s.PodName, node)
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return forbid("pod %q is a mirror pod", ns+"/"+s.PodName)
	}
	if s.ServiceAccountName != pod.Spec.ServiceAccountName {
		return forbid("PodCertificateRequest for pod %q contains serviceAccountName (%q) that differs from running pod (%q)", ns+"/"+s.PodName, s.ServiceAccountName, pod.Spec.ServiceAccountName)
	}
	sa, _ := apiserver.GetObject(v, "v1", "serviceaccounts", ns, s.ServiceAccountName).(*corev1.ServiceAccount)
	if sa == nil {
		return fmt.Errorf("while retrieving service account %q named in the PodCertificateRequest: %w", ns+"/"+s.ServiceAccountName, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), s.ServiceAccountName))
	}
	if sa.UID != s.ServiceAccountUID {
		return fmt.Errorf("PodCertificateRequest for pod %q names service account UID %q, which differs from the running service account (%q)", ns+"/"+s.PodName, s.ServiceAccountUID, sa.UID)
	}
	if !mountsSigner(pod, s.SignerName) {
		return forbid("pod %q does not mount a podCertificate projected volume for signer %q", ns+"/"+s.PodName, s.SignerName)
	}
	return nil
}

func mountsSigner(pod *corev1.Pod, signer string) bool {
	for _, vol := range pod.Spec.Volumes {
		if vol.Projected == nil {
			continue
		}
		for _, src := range vol.Projected.Sources {
			if src.PodCertificate != nil && src.PodCertificate.SignerName == signer {
				return true
			}
		}
	}
	return false
}
