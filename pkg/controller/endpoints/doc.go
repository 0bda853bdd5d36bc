// Package endpoints is the endpoints controller: for every Service with a
// selector it keeps an Endpoints object of the same name listing the matching
// pods' addresses (ready ones in addresses, the rest in notReadyAddresses) on
// each Service port resolved per pod, grouped into subsets of identical port
// sets, as kube-controller-manager's endpoint-controller does. It deletes the
// Endpoints when the Service goes away.
//
// It works only through the API (client-go informers, listers and a
// rate-limited workqueue). It must not touch the Endpoints of Services without
// a selector (their users own them) or of ExternalName Services, must not
// write when nothing changed, and must not scan every Service for every pod
// event (pods reach their Services through the namespace index).
package endpoints
