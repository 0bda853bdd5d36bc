// Package certificates declares the kinds of the certificates.k8s.io API
// group, one file per kind: certificate signing requests, through which a
// user asks a signer for a certificate for a key only they hold, an approver
// approves or denies the request (the approval subresource), and the signer
// issues the certificate (the status subresource); cluster trust bundles,
// the trust anchors of no signer or of one; and pod certificate requests,
// through which a node asks a signer for a certificate one of its pods
// mounts (only for a pod bound to it: upstream's NodeRestriction), and the
// signer answers through the status subresource.
//
// Each file adds its kind to the group's table from an init function; nothing
// else lists them. It must not serve HTTP or touch storage, and it must not
// decide who may approve, sign or attest for a signer: that asks the
// authorizer, which the server wires in (pkg/server). Signing is the csrsigning controller's work, never
// the API's.
package certificates

import (
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

var (
	kinds kind.Group
	v1    = certificatesv1.SchemeGroupVersion
)

// Resources returns every kind of the certificates.k8s.io group, built for
// opts.
func Resources(opts kind.Options) []*apiserver.Resource { return kinds.Resources(opts) }
