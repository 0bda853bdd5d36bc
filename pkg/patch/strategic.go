package patch

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// MaxMergeListLength bounds the lists a strategic merge patch merges. The
// library merges a list by searching it for every element it places and
// sorting it with a comparison that searches it again, so its work grows with
// the square of the list's length (times its logarithm): a merge of 8000
// containers takes seconds, one of the 200,000 a 3 MiB patch holds would take
// hours, and so would a tiny patch to an object already holding such a list.
// Upstream has no bound here. The work of a patch is counted as the sum, over
// every list it merges, of the elements involved (the live object's, the
// patch's and its deletions) times themselves and its $setElementOrder, and
// may not exceed the square of this length: one list of 4096 elements, or a
// hundred lists of 409. No
// built-in kind comes near: the longest merged lists (containers, env,
// volumes, ports, conditions, finalizers) hold tens or hundreds.
const MaxMergeListLength = 4096

const (
	directiveMarker     = "$patch"
	retainKeysDirective = "$retainKeys"
	setOrderPrefix      = "$setElementOrder/"
	deletePrimPrefix    = "$deleteFromPrimitiveList/"
)

// applyStrategic applies a strategic merge patch as strategicpatch's
// StrategicMergePatch does, with its errors in the same order, but decodes
// each document once and refuses a merge beyond MaxMergeListLength first.
func applyStrategic(original, patch []byte, typed runtime.Object) ([]byte, error) {
	var patchMap map[string]any
	patchErr := utiljson.Unmarshal(patch, &patchMap)
	if patchErr != nil {
		// The library decodes with apimachinery's json, which keeps integers
		// as int64; what the standard decoder refuses too answers as before.
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
	if err != nil {
		return nil, strategicError(err)
	}
	if original == nil {
		original = []byte("{}")
	}
	origMap := map[string]any{}
	if err := utiljson.Unmarshal(original, &origMap); err != nil || patchErr != nil {
		return nil, strategicError(mergepatch.ErrBadJSONDoc)
	}
	if cost := mergeCost(origMap, patchMap, meta); cost > MaxMergeListLength*MaxMergeListLength {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"The allowed maximum length of the lists a strategic merge patch merges is %d elements (the live object's and the patch's together, or as much work across several lists), got the work of %d",
			MaxMergeListLength, int64(math.Ceil(math.Sqrt(float64(cost))))))
	}
	merged, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(origMap, patchMap, meta)
	if err != nil {
		return nil, strategicError(err)
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, strategicError(err)
	}
	return out, nil
}

// strategicError answers as Skiff always has: 422 for a failed precondition,
// 400 for the rest.
func strategicError(err error) error {
	if mergepatch.IsPreconditionFailed(err) {
		return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
	}
	return apierrors.NewBadRequest(err.Error())
}

// mergeCost is the work of merging patch into original: the sum, over the
// lists the merge sorts and searches, of the elements involved times
// themselves and the element order they are sorted by.
// It walks the patch as the library's mergeMap does, into the maps both
// documents hold and into the list elements the patch merges with live ones
// (matched by merge key), and stops counting past the bound. What it cannot
// follow (a schema error, mismatched types) it leaves to the library, which
// fails there, or replaces the value, in linear time.
func mergeCost(original, patch map[string]any, meta strategicpatch.LookupPatchMeta) int64 {
	c := coster{limit: MaxMergeListLength * MaxMergeListLength}
	c.mapCost(original, patch, meta)
	return c.cost
}

type coster struct {
	cost, limit int64
}

func (c *coster) mapCost(original, patch map[string]any, meta strategicpatch.LookupPatchMeta) {
	if _, ok := patch[directiveMarker]; ok {
		return // the map is replaced or deleted whole
	}
	var lists []string
	for key, pv := range patch {
		if c.cost > c.limit {
			return
		}
		switch {
		case strings.HasPrefix(key, setOrderPrefix):
			lists = append(lists, key[len(setOrderPrefix):])
		case strings.HasPrefix(key, deletePrimPrefix):
			lists = append(lists, key[len(deletePrimPrefix):])
		case key == retainKeysDirective:
		default:
			switch pv := pv.(type) {
			case []any:
				lists = append(lists, key)
			case map[string]any:
				ov, ok := original[key].(map[string]any)
				if !ok {
					continue
				}
				sub, _, err := meta.LookupPatchMetadataForStruct(key)
				if err != nil {
					continue
				}
				c.mapCost(ov, pv, sub)
			}
		}
	}
	slices.Sort(lists)
	for _, field := range slices.Compact(lists) {
		if c.cost > c.limit {
			return
		}
		c.listCost(field, original, patch, meta)
	}
}

// listCost counts the merge of the list at field, and of the elements of the
// patch's list that merge into live ones.
func (c *coster) listCost(field string, original, patch map[string]any, meta strategicpatch.LookupPatchMeta) {
	live, liveIsList := original[field].([]any)
	pl, _ := patch[field].([]any)
	order, hasOrder := patch[setOrderPrefix+field].([]any)
	deletes, hasDeletes := patch[deletePrimPrefix+field].([]any)
	sub, pm, err := meta.LookupPatchMetadataForSlice(field)
	if err != nil {
		return
	}
	merges := slices.Contains(pm.GetPatchStrategies(), "merge")
	if !hasOrder && !hasDeletes && (!merges || !liveIsList) {
		return // replaced (or added) whole
	}
	// The merge searches and sorts the elements (live, patched and deleted)
	// against each other and against the element order.
	m := int64(len(live) + len(pl) + len(deletes))
	c.cost += m * (m + int64(len(order)))
	key := pm.GetPatchMergeKey()
	if key == "" || len(live) == 0 || len(pl) == 0 {
		return
	}
	byKey := make(map[any]map[string]any, len(live))
	for _, v := range live {
		if m, ok := v.(map[string]any); ok {
			if k, ok := mapKey(m[key]); ok {
				if _, dup := byKey[k]; !dup {
					byKey[k] = m
				}
			}
		}
	}
	for _, v := range pl {
		if c.cost > c.limit {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		k, ok := mapKey(m[key])
		if !ok {
			continue
		}
		if lm, ok := byKey[k]; ok {
			c.mapCost(lm, m, sub)
		}
	}
}

// mapKey returns a merge key's value when it can key a map (the library
// compares keys with ==, which panics on maps and slices).
func mapKey(v any) (any, bool) {
	switch v.(type) {
	case map[string]any, []any:
		return nil, false
	}
	return v, true
}
