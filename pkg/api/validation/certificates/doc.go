// Package certificates checks the kinds of the certificates.k8s.io API group
// (certificate signing requests, cluster trust bundles, pod certificate
// requests) the way the Kubernetes API server does, with
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
// A cluster trust bundle is checked as PEM CA certificates, none twice, named
// after its signer if it has one. A pod certificate request is checked as
// upstream does: the pod, service account and node it names, a lifetime cap
// within the signer's bounds, and a stub PKCS #10 request of an allowed key
// type whose signature verifies; its status may end it once, as Issued (a
// certificate for that key, with the times it states), Denied or Failed.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects: who may approve or sign for a signer is admission's business.
package certificates
