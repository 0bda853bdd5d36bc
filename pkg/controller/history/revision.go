package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// HashLabel is the label on every ControllerRevision holding the hash of its
// data; the name's suffix is the same hash.
const HashLabel = "controller.kubernetes.io/hash"

// maxPrefix leaves room in a 253-character name for "-" and a hash.
const maxPrefix = 223

// Hash names rev's data: a 32-bit FNV-1 hash of Data.Raw (or of Data.Object's
// JSON when there is no Raw), then of the probe in decimal when there is one,
// re-encoded with the API's safe alphabet. Upstream uses FNV-1, not FNV-1a;
// Skiff does the same so that its revision names (and the pods'
// controller-revision-hash labels) match Kubernetes' for the same data.
func Hash(rev *appsv1.ControllerRevision, probe *int32) string {
	h := fnv.New32()
	if len(rev.Data.Raw) > 0 {
		h.Write(rev.Data.Raw)
	} else if rev.Data.Object != nil {
		if b, err := json.Marshal(rev.Data.Object); err == nil {
			h.Write(b)
		}
	}
	if probe != nil {
		h.Write([]byte(strconv.FormatInt(int64(*probe), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Name is PREFIX-HASH, the prefix cut to 223 characters so that the whole is a
// valid object name.
func Name(prefix, hash string) string {
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + hash
}

// New builds (but does not create) the revision of parent holding data: named
// PARENT-HASH, controlled by parent, labelled with templateLabels and the hash.
func New(parent metav1.Object, parentKind schema.GroupVersionKind, templateLabels map[string]string,
	data runtime.RawExtension, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	lbls := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		lbls[k] = v
	}
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       parent.GetNamespace(),
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(parent, parentKind)},
		},
		Data:     data,
		Revision: revision,
	}
	hash := Hash(rev, collisionCount)
	rev.Name = Name(parent.GetName(), hash)
	rev.Labels[HashLabel] = hash
	return rev, nil
}

// Equal reports whether a and b hold the same data (two nils are equal).
func Equal(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Data.Raw, b.Data.Raw) && equality.Semantic.DeepEqual(a.Data.Object, b.Data.Object)
}

// FindEqual returns the revisions holding needle's data, in their order.
func FindEqual(revs []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// Sort orders revisions by revision number, then oldest first, then by name.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}
