package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/dump"
)

// hashLabel is the pod-template-hash label on a Deployment's ReplicaSets, their
// selectors and their pods.
const hashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// podTemplateHash names a pod template the way upstream's controller does, so
// that a user sees the same ReplicaSet and pod names on Skiff: FNV-1a (32 bits)
// of the template's spew dump, then of the collision count as 8 little-endian
// bytes when there is one, printed in decimal and re-encoded with the API's
// safe alphabet. The dump prints every field of the API types, so the hash is
// only stable for templates the API server has defaulted alike.
func podTemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		var b [8]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// replicaSetName is DEPLOYMENT-HASH, the Deployment's name cut short where the
// whole would not be a valid object name.
func replicaSetName(deployment, hash string) string {
	room := validation.DNS1123SubdomainMaxLength - len("-") - len(hash)
	if len(deployment) > room && room > 0 {
		deployment = deployment[:room]
	}
	return deployment + "-" + hash
}

// sameTemplate reports whether two pod templates are alike but for their
// pod-template-hash labels: a ReplicaSet runs its Deployment's template if so.
func sameTemplate(a, b *corev1.PodTemplateSpec) bool {
	if !labelsEqualBut(a.Labels, b.Labels, hashLabel) {
		return false
	}
	x, y := *a, *b
	x.Labels, y.Labels = nil, nil
	return equality.Semantic.DeepEqual(x, y)
}

func labelsEqualBut(a, b map[string]string, skip string) bool {
	n := 0
	for k, v := range a {
		if k == skip {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			return false
		}
		n++
	}
	if _, ok := b[skip]; ok {
		return n == len(b)-1
	}
	return n == len(b)
}

// splitReplicaSets picks the Deployment's new ReplicaSet (the oldest one with
// its template: after an upgrade there may be several) and returns the others
// as old, whatever their size.
func splitReplicaSets(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	sortByAge(rsList)
	for _, rs := range rsList {
		if newRS == nil && sameTemplate(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// sortByAge orders ReplicaSets oldest first, by name among equals.
func sortByAge(list []*appsv1.ReplicaSet) {
	sort.SliceStable(list, func(i, j int) bool { return olderThan(list[i], list[j]) })
}

func olderThan(a, b *appsv1.ReplicaSet) bool {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.Name < b.Name
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}
