package deployment

import (
	"math"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The annotations a Deployment's ReplicaSets carry, as upstream names them:
// kubectl reads the revisions (rollout history, undo, status --revision).
const (
	// revisionAnnotation orders a Deployment's templates; the Deployment
	// carries its new ReplicaSet's.
	revisionAnnotation = "deployment.kubernetes.io/revision"
	// revisionHistoryAnnotation lists the revisions a ReplicaSet served
	// before it was rolled back to.
	revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// desiredReplicasAnnotation is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled: a difference tells a resize from a rollout.
	desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// maxReplicasAnnotation is spec.replicas + maxSurge at that time, the base
	// of the ReplicaSet's share in a proportional resize.
	maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"

	// maxRevisionHistoryChars bounds revision-history (about 100 revisions).
	maxRevisionHistoryChars = 2000
)

// notCopied are the Deployment annotations its ReplicaSets do not inherit (and
// a rollback does not bring back from one).
var notCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true,
	revisionAnnotation:                 true,
	revisionHistoryAnnotation:          true,
	desiredReplicasAnnotation:          true,
	maxReplicasAnnotation:              true,
	appsv1.DeprecatedRollbackTo:        true,
}

// revision reads an object's revision annotation: 0 when it has none, an error
// when it is not a number.
func revision(annotations map[string]string) (int64, error) {
	v, ok := annotations[revisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// maxRevision is the highest revision among rss, skipping unreadable ones.
func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var top int64
	for _, rs := range rss {
		if v, err := revision(rs.Annotations); err == nil && v > top {
			top = v
		}
	}
	return top
}

// previousRevision is the second highest revision among rss: the one
// "rollback to the last revision" means.
func previousRevision(rss []*appsv1.ReplicaSet) int64 {
	var top, second int64
	for _, rs := range rss {
		v, err := revision(rs.Annotations)
		switch {
		case err != nil:
		case v >= top:
			top, second = v, top
		case v > second:
			second = v
		}
	}
	return second
}

// setNewReplicaSetAnnotations brings the new ReplicaSet's annotations in line:
// the Deployment's (but for notCopied), a revision raised to rev if it is
// lower (recording the one it replaces in revision-history: a rollback), and,
// for a ReplicaSet about to be created, the replicas annotations. It reports a
// change.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64, exists bool) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if notCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	prev, had := rs.Annotations[revisionAnnotation]
	var prevRev int64
	if prev != "" {
		var err error
		if prevRev, err = strconv.ParseInt(prev, 10, 64); err != nil {
			// Someone wrote a revision that is not a number: leave it, as upstream does.
			return false
		}
	}
	if prevRev < rev {
		rs.Annotations[revisionAnnotation] = strconv.FormatInt(rev, 10)
		changed = true
		if had {
			appendRevisionHistory(rs.Annotations, prev)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicas(d), replicas(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory adds rev to the revision-history list, dropping the
// oldest entries to stay within maxRevisionHistoryChars.
func appendRevisionHistory(annotations map[string]string, rev string) {
	history := annotations[revisionHistoryAnnotation]
	if history == "" {
		annotations[revisionHistoryAnnotation] = rev
		return
	}
	entries := strings.Split(history, ",")
	total := len(history) + 1 + len(rev)
	for total > maxRevisionHistoryChars && len(entries) > 0 {
		total -= len(entries[0]) + 1
		entries = entries[1:]
	}
	if total > maxRevisionHistoryChars {
		return
	}
	annotations[revisionHistoryAnnotation] = strings.Join(append(entries, rev), ",")
}

// setDeploymentRevision records rev on the Deployment and reports a change.
func setDeploymentRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations[revisionAnnotation] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[revisionAnnotation] = rev
	return true
}

// setReplicasAnnotations records the Deployment's size and maximum size on a
// ReplicaSet it scales, and reports a change.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsStale(rs, desired, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[desiredReplicasAnnotation] = strconv.Itoa(int(desired))
	rs.Annotations[maxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func replicasAnnotationsStale(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[desiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[maxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// replicasAnnotation reads desired- or max-replicas; ok is false when it is
// missing or not a non-negative int32.
func replicasAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}
