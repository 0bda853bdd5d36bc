package patch

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// legacyApply is pkg/apiserver's applyPatch as it was before this package, for
// comparison only: the fuzz test checks Apply answers as it did, the
// benchmarks that Apply is no slower, and the bomb benchmark what it cost.
func legacyApply(pt types.PatchType, original, patch []byte, dataStruct runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", r))
		}
	}()
	gr := schema.GroupResource{}
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(p) > MaxOperations {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", MaxOperations, len(p)))
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", gr, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		if !json.Valid(patch) {
			return nil, apierrors.NewBadRequest("error decoding patch: invalid JSON")
		}
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, dataStruct)
		if err != nil {
			if mergepatch.IsPreconditionFailed(err) {
				return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", gr, "", err.Error(), 0, false)
			}
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported patch type %q", pt)
}
