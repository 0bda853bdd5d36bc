package patch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// MaxOperations is upstream's bound on the operations of one JSON patch
	// (maxJSONPatchOperations in apiserver's endpoints/handlers/patch.go).
	MaxOperations = 10000
	// MaxCopyBytes bounds the bytes a JSON patch's "copy" operations add in
	// all: upstream's default --json-patch-max-copy-bytes (JSONPatchMaxCopyBytes
	// in apiserver's server/config.go), without which copies that double a
	// value each time grow a 2.5 KB patch to gigabytes.
	MaxCopyBytes = 3 << 20
)

// Apply applies a patch document of type pt to the JSON of an object; typed is
// a new object of the kind (strategic merge patches read its struct tags).
// The patch is abandoned, answering 504 as upstream's request timeout does,
// when ctx ends before it is done: between JSON patch operations, and before
// a merge starts (a merge's work is bounded: see MaxMergeListLength and
// applyMergePatch).
//
// Errors are *apierrors.StatusError with upstream's code, reason and message:
// 400 for a document that does not decode, 413 for a patch over a bound, 422
// for a JSON patch that does not apply (upstream's 422 keeps no message, so
// neither does this). The patch libraries panic on some malformed documents;
// a panic is the client's bad input and answers 400, never a crash.
func Apply(ctx context.Context, pt types.PatchType, original, patch []byte, typed runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", r))
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, abandoned(err)
	}
	switch pt {
	case types.JSONPatchType:
		return applyJSONPatch(ctx, original, patch)
	case types.MergePatchType:
		return applyMergePatch(original, patch)
	case types.StrategicMergePatchType:
		return applyStrategic(original, patch, typed)
	}
	return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s",
			types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType), 0, false)
}

// applyMergePatch applies an RFC 7386 merge patch. Its result is no larger
// than the object and the patch, but json-patch v4 parses a value once per
// level it merges into, each parse scanning all below: its work is the depth
// of the patch times the size of both, bounded here as a JSON patch's is
// (see work). Upstream has no bound; the patch of an object of the API's
// types (a dozen levels deep) never nears it.
func applyMergePatch(original, patch []byte) ([]byte, error) {
	if !json.Valid(patch) {
		return nil, apierrors.NewBadRequest("error decoding patch: invalid JSON")
	}
	budget := parseBudget(len(original), len(patch))
	if int64(depthOf(patch))*int64(len(original)+len(patch)) > budget {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"the merge patch is so deep, and it and the object so large, that applying it would parse more than %d bytes", budget))
	}
	out, err := jsonpatch.MergePatch(original, patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}

func depthOf(b []byte) int { d, _ := Shape(b); return d }

// abandoned is upstream's answer to a request whose context ended before its
// write was done (apiserver's endpoints/handlers/finisher).
func abandoned(err error) error {
	return apierrors.NewTimeoutError(fmt.Sprintf("request did not complete within requested timeout - %v", err), 0)
}

// Shape is how deeply objects and arrays nest in valid JSON, and how many of
// them it holds.
func Shape(b []byte) (depth, containers int) {
	level := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			containers++
			level++
			depth = max(depth, level)
		case c == '}' || c == ']':
			level--
		}
	}
	return depth, containers
}
