// Package job is the Job controller: it runs each batch/v1 Job's pods to
// completion as upstream's does. It creates pods from the template (named
// JOB-RANDOM, or JOB-INDEX-RANDOM in Indexed mode with the completion index as
// annotation, label, hostname and JOB_COMPLETION_INDEX), up to parallelism and
// the completions still missing; it replaces failed pods after an exponential
// back-off (10 s doubling, capped at 10 minutes as upstream's code has it
// since v1.28; its documentation still says 6) until backoffLimit (container
// restarts count for restartPolicy OnFailure) or, per index,
// backoffLimitPerIndex and maxFailedIndexes; it applies
// activeDeadlineSeconds, the pod failure policy (FailJob, FailIndex, Ignore,
// Count), the success policy of Indexed Jobs, suspend and resume, and
// podReplacementPolicy Failed; and it keeps the status (active, ready,
// terminating, succeeded, failed, completedIndexes, failedIndexes, startTime,
// completionTime and the SuccessCriteriaMet, Complete, FailureTarget, Failed
// and Suspended conditions with upstream's reasons and messages) through the
// /status subresource.
//
// Pods are counted exactly once through the batch.kubernetes.io/job-tracking
// finalizer: a finished pod goes into status.uncountedTerminatedPods, loses its
// finalizer, then moves to the counters, as upstream v1.37 does, so a pod that
// is deleted (by a user, by the garbage collector) before it was counted is
// still counted. Pods whose job is gone or finished lose the finalizer too.
//
// It works only through the API (client-go informers, an index of pods by
// owning Job, workqueues), so it can also run out of process, and it does
// per-job work: a pod event costs a sync of its own job only, batched for a
// second as upstream batches them. It does not adopt orphan pods (a Job's
// generated selector names its own UID). It must not delete a job's pods when
// the job is deleted (the garbage collector's job), nor delete finished jobs
// (the ttlafterfinished and cronjob controllers'), nor touch jobs whose
// spec.managedBy names another controller.
package job
