// Package batch fills in what the Kubernetes API server fills in when a
// client leaves a field of a batch object (a job, a cron job) empty: batch/v1's
// SetDefaults_* rules, and the pod template's defaults by package defaults'
// rules for any pod template.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects. A job's generated selector is
// not a default: it needs the uid the API server gives the job on create.
package batch
