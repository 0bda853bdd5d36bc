package certificates

import (
	"context"
	"errors"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/certificates"
	validation "github.com/skiffhq/skiff/pkg/api/validation/certificates"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(certificateSigningRequests) }

type csr = certificatesv1.CertificateSigningRequest

func certificateSigningRequests(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("CertificateSigningRequest"), "certificatesigningrequests", "certificatesigningrequest", false,
		func() runtime.Object { return &csr{} }, func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		printers.CertificateSigningRequest())
	r.ShortNames = []string{"csr"}
	// The status is the approver's (through approval) and the signer's
	// (through status), never the requester's.
	r.Status = true
	r.Admit = func(ctx context.Context, _ apiserver.View, obj runtime.Object) error {
		setRequestor(ctx, obj.(*csr))
		return nil
	}
	// Where upstream's validating admission runs: after validation.
	r.BeforeCreate = func(_ context.Context, _ apiserver.View, obj runtime.Object) error {
		return restrictSubject(obj.(*csr))
	}
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		// A request is what its requester asked: only its metadata changes.
		obj.(*csr).Spec = old.(*csr).Spec
		return nil
	}
	r.PrepareForStatusUpdate = func(obj, old runtime.Object) { prepareStatus(obj.(*csr), old.(*csr)) }
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"spec.signerName": obj.(*csr).Spec.SignerName}
	}
	kind.Hooks[*csr]{
		Validate:             validation.ValidateCertificateSigningRequest,
		ValidateUpdate:       validation.ValidateCertificateSigningRequestUpdate,
		ValidateStatusUpdate: validation.ValidateCertificateSigningRequestStatusUpdate,
	}.Install(r)
	r.Subresources = []apiserver.Subresource{{
		Name: "approval", Kind: v1.WithKind("CertificateSigningRequest"), Verbs: []string{"get", "patch", "update"},
		Part: &apiserver.Part{
			Take: func(stored, obj runtime.Object) { takeApproval(stored.(*csr), obj.(*csr)) },
			Validate: func(obj, old runtime.Object) field.ErrorList {
				return validation.ValidateCertificateSigningRequestApprovalUpdate(obj.(*csr), old.(*csr))
			},
		},
	}}
	return r
}

// setRequestor records who asked, as upstream's strategy does on create:
// the requesting user, whatever the client wrote.
func setRequestor(ctx context.Context, c *csr) {
	c.Spec.Username, c.Spec.UID, c.Spec.Groups, c.Spec.Extra = "", "", nil, nil
	if u, ok := apiserver.UserFrom(ctx); ok {
		c.Spec.Username, c.Spec.UID = u.Name, u.UID
		c.Spec.Groups = slices.Clone(u.Groups)
		for k, vs := range u.Extra {
			if c.Spec.Extra == nil {
				c.Spec.Extra = map[string]certificatesv1.ExtraValue{}
			}
			c.Spec.Extra[k] = slices.Clone(vs)
		}
	}
}

// restrictSubject is upstream's CertificateSubjectRestriction admission: a
// request to the kube-apiserver-client signer may not name system:masters
// among its subject's organizations (a client certificate's groups), so no
// approver can mint cluster admins by mistake.
func restrictSubject(c *csr) error {
	if c.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	gr := v1.WithResource("certificatesigningrequests").GroupResource()
	req, err := validation.ParseRequest(c.Spec.Request)
	if err != nil {
		return apierrors.NewForbidden(gr, c.Name, errors.New("failed to parse CSR: "+err.Error()))
	}
	if slices.Contains(req.Subject.Organization, apiserver.MastersGroup) {
		return apierrors.NewForbidden(gr, c.Name,
			errors.New("use of "+certificatesv1.KubeAPIServerClientSignerName+" signer with "+apiserver.MastersGroup+" group is not allowed"))
	}
	return nil
}

// prepareStatus keeps, on a write to /status, the Approved and Denied
// conditions as stored, which only approval may change: a write that adds or
// removes some keeps them as written, for validation to refuse. Conditions
// written without timestamps get them.
func prepareStatus(c, old *csr) {
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
		was, is := indexesOf(old, t), indexesOf(c, t)
		if len(was) != len(is) {
			continue
		}
		for i, j := range is {
			c.Status.Conditions[j] = old.Status.Conditions[was[i]]
		}
	}
	stampConditions(c.Status.Conditions, old.Status.Conditions, metav1.Now())
}

// takeApproval is what a write to /approval changes: the conditions, with
// timestamps, and the metadata as written (upstream's approval strategy keeps
// only the spec and the certificate).
func takeApproval(stored, c *csr) {
	conditions := slices.Clone(c.Status.Conditions)
	stampConditions(conditions, stored.Status.Conditions, metav1.Now())
	stored.ObjectMeta = *c.ObjectMeta.DeepCopy()
	stored.Status.Conditions = conditions
}

// stampConditions fills the times a writer left out: lastUpdateTime is now,
// and lastTransitionTime stays what it was when a stored condition of the
// same type had the same status, else now.
func stampConditions(conditions, old []certificatesv1.CertificateSigningRequestCondition, now metav1.Time) {
	for i := range conditions {
		c := &conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = now
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
				break
			}
		}
	}
}

func indexesOf(c *csr, t certificatesv1.RequestConditionType) []int {
	var out []int
	for i, cond := range c.Status.Conditions {
		if cond.Type == t {
			out = append(out, i)
		}
	}
	return out
}
