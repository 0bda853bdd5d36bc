// Package csrcleaner is the CSR cleaner: it deletes certificate signing
// requests once they are of no more use, as kube-controller-manager's
// csrcleaner does, so that requests made by machines do not pile up. A
// request goes an hour after it was approved and issued, denied or failed;
// a day after it was made when nobody decided on it, or after it was
// approved when no certificate came; and as soon as its certificate has
// expired. It looks every hour (Options.Interval).
//
// It works only through the API, with a client-go informer. It must not
// delete a request that is still waiting within those times, nor touch
// the certificates it deletes requests for.
package csrcleaner
