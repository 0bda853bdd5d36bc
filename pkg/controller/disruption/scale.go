package disruption

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// counts are what a budget's status is computed from.
type counts struct {
	expected  int32    // pods the budget's pods' controllers want
	desired   int32    // pods that must stay healthy
	unmanaged []string // selected pods with no controller
}

// budgetCounts computes the expected and desired healthy pods as upstream
// does: an integer minAvailable needs no controller (expected is the pods
// selected); a percentage or any maxUnavailable is taken of the sum of the
// controllers' replicas.
func (c *Controller) budgetCounts(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (counts, error) {
	var out counts
	spec := pdb.Spec
	switch {
	case spec.MaxUnavailable != nil:
		expected, unmanaged, err := c.expectedScale(pods)
		if err != nil {
			return out, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return out, err
		}
		out = counts{expected: expected, desired: max(expected-int32(maxUnavailable), 0), unmanaged: unmanaged}
	case spec.MinAvailable != nil && spec.MinAvailable.Type == intstr.Int:
		out = counts{expected: int32(len(pods)), desired: spec.MinAvailable.IntVal}
	case spec.MinAvailable != nil:
		expected, unmanaged, err := c.expectedScale(pods)
		if err != nil {
			return out, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, int(expected), true)
		if err != nil {
			return out, err
		}
		out = counts{expected: expected, desired: int32(minAvailable), unmanaged: unmanaged}
	}
	return out, nil
}

// expectedScale sums the replicas of the controllers of the pods, each once.
// Pods without a controller are left out and named; a pod whose controller
// cannot be found fails the sum.
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, []string, error) {
	scales := map[types.UID]int32{}
	var unmanaged []string
	for _, pod := range pods {
		ref := metav1.GetControllerOfNoCopy(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, seen := scales[ref.UID]; seen {
			continue
		}
		uid, replicas, ok, err := c.controllerScale(ref, pod.Namespace)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
		scales[uid] = replicas
		if uid != ref.UID {
			scales[ref.UID] = 0 // the ReplicaSet of a Deployment counted through it
		}
	}
	var sum int32
	for _, n := range scales {
		sum += n
	}
	return sum, unmanaged, nil
}

// controllerScale finds the controller a pod's controller reference names and
// its spec.replicas: a ReplicationController, a StatefulSet, a ReplicaSet, or
// the Deployment that controls that ReplicaSet. A reference to an object that
// is gone or was replaced (another UID) is not found.
func (c *Controller) controllerScale(ref *metav1.OwnerReference, ns string) (types.UID, int32, bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return "", 0, false, err
	}
	apps := slices.Contains([]string{"apps", "extensions"}, gv.Group)
	switch {
	case ref.Kind == "ReplicationController" && gv.Group == "":
		rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, false, nil
		}
		return rc.UID, ptr.Deref(rc.Spec.Replicas, 1), true, nil
	case ref.Kind == "StatefulSet" && gv.Group == "apps":
		ss, err := c.statefulSets.StatefulSets(ns).Get(ref.Name)
		if err != nil || ss.UID != ref.UID {
			return "", 0, false, nil
		}
		return ss.UID, ptr.Deref(ss.Spec.Replicas, 1), true, nil
	case ref.Kind == "ReplicaSet" && apps:
		rs, err := c.replicaSets.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false, nil
		}
		owner := metav1.GetControllerOfNoCopy(rs)
		if owner == nil || owner.Kind != "Deployment" {
			return rs.UID, ptr.Deref(rs.Spec.Replicas, 1), true, nil
		}
		ogv, err := schema.ParseGroupVersion(owner.APIVersion)
		if err != nil {
			return "", 0, false, err
		}
		if ogv.Group != "apps" && ogv.Group != "extensions" {
			return "", 0, false, nil
		}
		d, err := c.deployments.Deployments(ns).Get(owner.Name)
		if err != nil || d.UID != owner.UID {
			return "", 0, false, nil
		}
		return d.UID, ptr.Deref(d.Spec.Replicas, 1), true, nil
	case ref.Kind == "ReplicationController" || ref.Kind == "StatefulSet" || ref.Kind == "ReplicaSet":
		return "", 0, false, nil // the kind in a group that does not serve it
	}
	// Upstream would try the kind's scale subresource; none of the other kinds
	// served here has one (Jobs, DaemonSets), and upstream says so.
	gvr, _ := meta.UnsafeGuessKindToResource(gv.WithKind(ref.Kind))
	return "", 0, false, fmt.Errorf("%s does not implement the scale subresource", gvr.GroupResource())
}
