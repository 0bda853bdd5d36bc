// Package ttlafterfinished is the TTL-after-finished controller: it deletes a
// batch/v1 Job ttlSecondsAfterFinished after it finished (the time its
// Complete or Failed condition turned true), with foreground propagation (as upstream) and
// preconditions on the Job's UID and resourceVersion so that a Job changed or
// replaced since it was read is looked at again rather than deleted. Each Job
// is queued for its own expiry time, never polled.
//
// It works only through the API, with a client-go informer and a workqueue,
// and reads time only from its injected clock. It must not touch Jobs without
// a TTL or Jobs still running, nor delete their pods itself (the garbage
// collector does).
package ttlafterfinished
