package cronjob

import (
	"errors"
	"fmt"
	"time"
	// Time zones come from the IANA database built into the binary, as the
	// API server's validation reads them, so that both agree on every host.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"

	validation "github.com/skiffhq/skiff/pkg/api/validation/batch"
)

// tooManyMissed is how many missed start times a CronJob may have before the
// controller warns that its clock or its startingDeadlineSeconds is wrong
// (upstream's threshold: more than a long weekend of hourly runs).
const tooManyMissed = 100

// wakeSlack is added to every requeue so that the sync after a scheduled
// time sees that time as passed even on a clock that runs a little behind
// the workqueue's.
const wakeSlack = 100 * time.Millisecond

// errZeroInterval is a schedule that parses but never fires twice a second
// apart, such as the 31st of February.
var errZeroInterval = errors.New("time difference between two schedules is less than 1 second")

// location is where a CronJob's schedule is read: its timeZone, or the
// controller's local time when it names none (as upstream does).
func location(cj *batchv1.CronJob) (*time.Location, error) {
	if cj.Spec.TimeZone == nil {
		return time.Local, nil
	}
	return time.LoadLocation(*cj.Spec.TimeZone)
}

// parseSchedule parses a CronJob's schedule and binds it to its time zone.
// A TZ= prefix, which only an older server could have stored, is left to
// rule.
func parseSchedule(cj *batchv1.CronJob, loc *time.Location) (cron.Schedule, error) {
	s, err := validation.ParseSchedule(cj.Spec.Schedule)
	if err != nil {
		return nil, err
	}
	if spec, ok := s.(*cron.SpecSchedule); ok && cj.Spec.TimeZone != nil && spec.Location == time.Local {
		spec.Location = loc
	}
	return s, nil
}

// missed is what a sync finds between a CronJob's last start (or its
// creation) and now.
type missed struct {
	// latest is the most recent scheduled time not after now, zero if none.
	latest time.Time
	// many says more than tooManyMissed times were missed.
	many bool
}

// unmetTimes finds the scheduled times a CronJob has not started since its
// last scheduled time or its creation, and no earlier than notBefore (the
// starting deadline) when that is set.
func unmetTimes(cj *batchv1.CronJob, s cron.Schedule, now time.Time, notBefore *time.Time) (missed, error) {
	since := cj.CreationTimestamp.Time
	if t := cj.Status.LastScheduleTime; t != nil {
		since = t.Time
	}
	if notBefore != nil && notBefore.After(since) {
		since = *notBefore
	}
	first := s.Next(since)
	if first.After(now) {
		return missed{}, nil
	}
	second := s.Next(first)
	if second.After(now) {
		return missed{latest: first}, nil
	}
	interval := second.Sub(first).Round(time.Second)
	if interval < time.Second {
		return missed{}, errZeroInterval
	}
	// Walking every missed time could take a long time after a long outage
	// (or a clock decades off), so jump close to now by the first interval
	// and walk from there, further back when an irregular schedule has no
	// time in the jump's window.
	count := int64(now.Sub(first)/interval) + 1
	m := missed{many: count > tooManyMissed}
	for back := int64(2); ; back *= 2 {
		from := first
		if skip := count - back; skip > 0 {
			from = first.Add(time.Duration(skip) * interval)
		}
		var latest time.Time
		if from.Equal(first) {
			latest = first
		}
		for t := s.Next(from); !t.After(now); t = s.Next(t) {
			latest = t
		}
		if !latest.IsZero() {
			m.latest = latest
			return m, nil
		}
	}
}

// nextWake is how long until a CronJob should be looked at again: just after
// its next scheduled time.
func nextWake(s cron.Schedule, now time.Time) time.Duration {
	return s.Next(now).Add(wakeSlack).Sub(now)
}

// jobName names the Job for a scheduled time: minutes since the epoch, the
// controller's granularity, so that one time is never started twice.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
