// Package cronjob is the CronJob controller: it creates each batch/v1
// CronJob's Jobs at the times its schedule names (standard cron syntax or an
// @hourly-style macro, read in spec.timeZone when set), named CRONJOB-<minutes
// since the epoch of the scheduled time> so that a time is never run twice;
// it applies concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds
// and suspend, keeps status.active, lastScheduleTime and lastSuccessfulTime,
// and deletes the oldest finished Jobs past the history limits. Each CronJob is
// looked at again at its next scheduled time (a delayed workqueue key), never
// by polling them all.
//
// It works only through the API, with client-go informers and a workqueue, and
// reads time only from its injected clock. It must not run a Job's pods (that
// is the Job controller's work) nor delete a CronJob's Jobs when the CronJob
// goes (the garbage collector's).
package cronjob
