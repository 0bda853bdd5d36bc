// Package apps fills in what the Kubernetes API server fills in when a client
// leaves a field of an apps/v1 object empty (deployments, replica sets, daemon
// sets, stateful sets): apps/v1's SetDefaults_* rules, and the pod template's
// pod spec defaulted as package defaults defaults any pod template.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects. What the API server's
// strategy sets on create or update (status, generation, a DaemonSet's
// template generation) is the registry's business, not this package's.
package apps
