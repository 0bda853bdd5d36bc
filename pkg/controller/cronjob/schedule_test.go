package cronjob

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUnmetTimes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		schedule   string
		since, now time.Time
		deadline   time.Duration // 0: none
		latest     time.Time
		many       bool
	}{
		{name: "not yet", schedule: "0 * * * *", since: at(10, 0, 30), now: at(10, 59, 59)},
		{name: "one due", schedule: "0 * * * *", since: at(10, 0, 30), now: at(11, 0, 0), latest: at(11, 0, 0)},
		{name: "a few missed", schedule: "0 * * * *", since: at(6, 0, 30), now: at(10, 20, 0), latest: at(10, 0, 0)},
		{name: "macro", schedule: "@hourly", since: at(6, 0, 30), now: at(8, 20, 0), latest: at(8, 0, 0)},
		{name: "every", schedule: "@every 7m", since: at(10, 0, 0), now: at(10, 30, 0), latest: at(10, 28, 0)},
		{name: "irregular", schedule: "30 6-16/4 * * 1-5", since: at(6, 0, 0), now: at(15, 0, 0), latest: at(14, 30, 0)},
		{name: "too many", schedule: "*/1 * * * *", since: at(6, 0, 0), now: at(10, 0, 30), latest: at(10, 0, 0), many: true},
		{name: "deadline keeps the window", schedule: "*/1 * * * *", since: at(6, 0, 0), now: at(10, 0, 30), deadline: time.Minute, latest: at(10, 0, 0)},
		{name: "deadline passed", schedule: "0 * * * *", since: at(9, 0, 0), now: at(10, 0, 30), deadline: 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(tc.since)}, Spec: batchv1.CronJobSpec{Schedule: tc.schedule}}
			s, err := parseSchedule(cj, time.Local)
			if err != nil {
				t.Fatal(err)
			}
			var notBefore *time.Time
			if tc.deadline > 0 {
				nb := tc.now.Add(-tc.deadline)
				notBefore = &nb
			}
			got, err := unmetTimes(cj, s, tc.now.In(time.UTC), notBefore)
			if err != nil {
				t.Fatal(err)
			}
			if !got.latest.Equal(tc.latest) || got.many != tc.many {
				t.Errorf("got latest %v many %v, want %v %v", got.latest, got.many, tc.latest, tc.many)
			}
		})
	}
}

func TestImpossibleScheduleIsAnError(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(0, 0, 0))}, Spec: batchv1.CronJobSpec{Schedule: "59 23 31 2 *"}}
	s, err := parseSchedule(cj, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unmetTimes(cj, s, at(10, 0, 0), nil); err == nil {
		t.Errorf("31 February: no error")
	}
}
