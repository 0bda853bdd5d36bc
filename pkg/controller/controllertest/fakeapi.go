package controllertest

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
)

// What the fake clientset's object tracker does not do as the API server
// does, and control loops depend on. The callers are reactors, which
// serialize the writes and number the resourceVersions.

// Stored is the object an update replaces, or the Conflict the API server
// answers when the update names another resourceVersion than the stored one.
func Stored(tracker k8stesting.ObjectTracker, a k8stesting.UpdateAction) (runtime.Object, error) {
	m, err := meta.Accessor(a.GetObject())
	if err != nil {
		return nil, err
	}
	cur, err := tracker.Get(a.GetResource(), a.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	cm, _ := meta.Accessor(cur)
	if rv := m.GetResourceVersion(); rv != "" && rv != cm.GetResourceVersion() {
		return nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	return cur, nil
}

// Patch applies a strategic merge or merge patch as the API server does: it
// refuses one whose metadata.uid names another object than the stored one
// (the precondition claim's patches carry), and stores the result under the
// resourceVersion nextRV gives. Other patch types it leaves to the tracker
// (handled is false).
func Patch(tracker k8stesting.ObjectTracker, a k8stesting.PatchAction, nextRV func() string) (handled bool, _ runtime.Object, _ error) {
	pt := a.GetPatchType()
	if pt != types.StrategicMergePatchType && pt != types.MergePatchType {
		return false, nil, nil
	}
	cur, err := tracker.Get(a.GetResource(), a.GetNamespace(), a.GetName())
	if err != nil {
		return true, nil, err
	}
	var precondition struct {
		Metadata struct {
			UID types.UID `json:"uid"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(a.GetPatch(), &precondition)
	cm, _ := meta.Accessor(cur)
	if uid := precondition.Metadata.UID; uid != "" && uid != cm.GetUID() {
		return true, nil, apierrors.NewInvalid(groupKind(cur), a.GetName(), nil)
	}
	old, err := json.Marshal(cur)
	if err != nil {
		return true, nil, err
	}
	next := cur.DeepCopyObject()
	var merged []byte
	if pt == types.StrategicMergePatchType {
		merged, err = strategicpatch.StrategicMergePatch(old, a.GetPatch(), next)
	} else {
		merged, err = jsonpatch.MergePatch(old, a.GetPatch())
	}
	if err != nil {
		return true, nil, err
	}
	if err := json.Unmarshal(merged, next); err != nil {
		return true, nil, err
	}
	nm, _ := meta.Accessor(next)
	nm.SetResourceVersion(nextRV())
	if err := tracker.Update(a.GetResource(), next, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	return true, next, nil
}

func groupKind(obj runtime.Object) schema.GroupKind {
	if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
		return gvks[0].GroupKind()
	}
	return schema.GroupKind{}
}
