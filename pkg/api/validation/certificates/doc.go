// Package certificates checks the kinds of the certificates.k8s.io API group
// (certificate signing requests) the way the Kubernetes API server does, with
// upstream's field paths, error types and messages, on the shared rules of
// package validation (object metadata).
//
// A request is checked as a PEM-encoded PKCS #10 request whose signature
// verifies, its signer name as a qualified "domain/path" name, its usages as
// known and unique; an issued certificate as PEM CERTIFICATE blocks. Each
// write path may change only its own part of the status: the approval
// subresource the Approved and Denied conditions, the status subresource the
// certificate. What a stored object already got wrong (a duplicate condition,
// an unknown usage) is tolerated on update, as upstream tolerates it.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects: who may approve or sign for a signer is admission's business.
package certificates
