package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// failureVerdict is what a Job's pod failure policy makes of a failed pod.
type failureVerdict struct {
	// failJob is the Job's failure message when a FailJob rule matched.
	failJob *string
	// counts: the failure counts towards backoffLimit (and
	// backoffLimitPerIndex); false when an Ignore rule matched.
	counts bool
	// action is the matched rule's action; nil when none matched.
	action *batchv1.PodFailurePolicyAction
}

// matchFailurePolicy applies a Job's pod failure policy to a failed pod: the
// first rule that matches decides, on the exit code of a terminated container
// (init containers after the others) or on a pod condition.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) failureVerdict {
	if policy == nil {
		return failureVerdict{counts: true}
	}
	for i := range policy.Rules {
		rule := &policy.Rules[i]
		var message string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(&pod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			message = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
				cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			cond := matchPodConditions(&pod.Status, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			message = fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
				pod.Namespace, pod.Name, cond.Type, rule.Action, i)
		default:
			continue
		}
		action := rule.Action
		switch action {
		case batchv1.PodFailurePolicyActionIgnore:
			return failureVerdict{counts: false, action: &action}
		case batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionCount:
			return failureVerdict{counts: true, action: &action}
		case batchv1.PodFailurePolicyActionFailJob:
			return failureVerdict{failJob: &message, counts: true, action: &action}
		}
		// An action this version does not know: upstream moves on too.
	}
	return failureVerdict{counts: true}
}

func matchExitCodes(s *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	if cs := matchingContainer(s.ContainerStatuses, req); cs != nil {
		return cs
	}
	return matchingContainer(s.InitContainerStatuses, req)
}

// matchingContainer is the first terminated container with a non-zero exit
// code that the requirement matches.
func matchingContainer(statuses []corev1.ContainerStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for i := range statuses {
		cs := &statuses[i]
		t := cs.State.Terminated
		if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
			continue
		}
		in := slices.Contains(req.Values, t.ExitCode)
		if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) ||
			(req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
			return cs
		}
	}
	return nil
}

func matchPodConditions(s *corev1.PodStatus, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range s.Conditions {
		for _, p := range patterns {
			if s.Conditions[i].Type == p.Type && s.Conditions[i].Status == p.Status {
				return &s.Conditions[i]
			}
		}
	}
	return nil
}

// failJobMessage is the failure message of the first failed pod that a
// FailJob rule matches.
func failJobMessage(j *batchv1.Job, pods []*corev1.Pod) *string {
	if j.Spec.PodFailurePolicy == nil {
		return nil
	}
	for _, p := range pods {
		if podFailed(p, j) {
			if v := matchFailurePolicy(j.Spec.PodFailurePolicy, p); v.failJob != nil {
				return v.failJob
			}
		}
	}
	return nil
}

// countedFailures is how many of the failed pods count towards backoffLimit.
func countedFailures(j *batchv1.Job, failed []*corev1.Pod) int {
	n := len(failed)
	if j.Spec.PodFailurePolicy != nil {
		for _, p := range failed {
			if !matchFailurePolicy(j.Spec.PodFailurePolicy, p).counts {
				n--
			}
		}
	}
	return n
}

// matchSuccessPolicy reports the message of the first success policy rule the
// succeeded indexes meet.
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int32, succeeded intervals) (string, bool) {
	if policy == nil || len(succeeded) == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		met := false
		if rule.SucceededIndexes != nil {
			required := parseIntervals(*rule.SucceededIndexes, int(completions))
			if len(required) == 0 {
				continue // unparseable
			}
			n := required.overlap(succeeded)
			met = n == required.total() || (rule.SucceededCount != nil && n >= int(*rule.SucceededCount))
		} else if rule.SucceededCount != nil {
			met = succeeded.total() >= int(*rule.SucceededCount)
		}
		if met {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
