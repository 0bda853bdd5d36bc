package apiserver

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
	"sigs.k8s.io/yaml"
)

// maxPatchOps bounds a JSON patch, as upstream does, so a patch cannot make the
// server do unbounded work.
const maxPatchOps = 10000

// applyPatch applies a patch document of the given type to the JSON of an object.
// The patch libraries panic on some malformed documents (found by FuzzPatch): a
// panic is the client's bad input, answered 400, never a crashed request.
func applyPatch(pt types.PatchType, original, patch []byte, dataStruct runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", r))
		}
	}()
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(p) > maxPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxPatchOps, len(p)))
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schemaGR, "", err.Error(), 0, false)
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
				return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schemaGR, "", err.Error(), 0, false)
			}
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, unsupportedMediaType(string(pt))
}

var schemaGR = schema.GroupResource{}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, req request, status bool) {
	pt := types.PatchType(mediaType(r))
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		// Server-side apply needs managed fields; until then answer as a server
		// without it does, so kubectl says it is unavailable.
		writeError(w, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", req.res.groupResource(), req.name,
			"server-side apply is not supported by this server; use client-side apply (kubectl apply without --server-side)", 0, false))
		return
	default:
		writeError(w, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", req.res.groupResource(), req.name,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType), 0, false))
		return
	}
	fv, dryRun, body, err := readWrite(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if yamlish(body) {
		if j, err := yaml.YAMLToJSON(body); err == nil {
			body = j
		}
	}
	var warnings []string
	mode := writeMain
	if status {
		mode = writeStatus
	}
	raw, _, err := s.updateWith(wantProtobuf(r), req, mode, dryRun, func(old runtime.Object) (runtime.Object, error) {
		original, err := encodeJSON(old, req.res.GVK)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := applyPatch(pt, original, body, req.res.New())
		if err != nil {
			return nil, err
		}
		obj := req.res.New()
		warnings, err = decodeInto(patched, "application/json", req.res.GVK, obj, fv)
		if err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	warn(w, warnings)
	respond(w, http.StatusOK, raw)
}

// yamlish reports whether a patch body is not JSON (kubectl patch accepts YAML).
func yamlish(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return false
		}
		return true
	}
	return false
}
