package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/pkg/patch"
)

// patchTimeout bounds the work of a patch as upstream's request timeout does
// (requestTimeoutUpperBound in its patch handler): past it, 504.
const patchTimeout = 34 * time.Second

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, req request, mode writeMode) {
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
	if body, err = patch.JSONBody(body); err != nil {
		writeError(w, err)
		return
	}
	// As upstream: a patch gets at most its request timeout's upper bound.
	ctx, cancel := context.WithTimeout(r.Context(), patchTimeout)
	defer cancel()
	var warnings []string
	raw, _, err := s.updateWith(wantProtobuf(r), req, mode, dryRun, func(old runtime.Object) (runtime.Object, error) {
		original, err := encodeJSON(old, req.res.GVK)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := patch.Apply(ctx, pt, original, body, req.res.New())
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
	s.answerWrite(w, r, req.res, http.StatusOK, raw)
}
