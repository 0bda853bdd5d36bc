// Package serviceaccount is the service accounts controller: every active
// namespace gets a "default" ServiceAccount, recreated if it is deleted, as
// upstream's serviceaccounts-controller does.
//
// It works only through the API (informers and the typed client), so it can
// also run out of process. It must not touch ServiceAccounts it did not ask
// for, nor create anything in a namespace that is terminating.
package serviceaccount
