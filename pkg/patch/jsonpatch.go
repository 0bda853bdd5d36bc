package patch

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// copyLimit gives json-patch v4 upstream's bound on what "copy" operations
// add: the library reads it from a package variable, which upstream's API
// server sets once at start the same way (JSONPatchMaxCopyBytes). Skiff
// applies JSON patches only here, so the variable is never meant otherwise.
var copyLimit sync.Once

// applyJSONPatch applies an RFC 6902 patch with json-patch v4, as upstream
// does, within three bounds: upstream's on the operations and on the bytes
// copies add, and this package's on the bytes the library may have to parse
// (see parseCost). It is abandoned when ctx ends, answering 504 as upstream's
// request timeout does; the library, which cannot be stopped, finishes its
// bounded work in the background.
func applyJSONPatch(ctx context.Context, original, patch []byte) ([]byte, error) {
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if len(ops) > MaxOperations {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", MaxOperations, len(ops)))
	}
	if cost, budget := parseCost(ops, len(original), len(patch)), parseBudget(len(original), len(patch)); cost > budget {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"the JSON patch reaches so deep or tests so much, and it and the object are so large, that applying it would parse more than %d bytes", budget))
	}
	copyLimit.Do(func() { jsonpatch.AccumulatedCopySizeLimit = MaxCopyBytes })
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", p))}
			}
			done <- r
		}()
		r.out, r.err = ops.Apply(original)
		if r.err != nil {
			// Upstream's 422 keeps none of the library's message.
			r.err = apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", r.err.Error(), 0, false)
		}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, abandoned(ctx.Err())
	}
}

// parseBudget is the bytes a patch of an object may make the server parse:
// 16 times all it could need to parse once (the object, the patch and what
// copies add), which lets a 1 MB value be walked 60 levels deep, about a
// second of work.
func parseBudget(original, patch int) int64 {
	return 16 * (int64(original) + int64(patch) + MaxCopyBytes)
}

// parseCost bounds the bytes json-patch v4 parses to apply ops to an object
// of the given size. The document it works on is the object, the values the
// patch adds and what copies add. It parses a value the first time an
// operation's path walks through it, with all that lies below, and keeps what
// it parsed: walks cost at most the deepest path times the document. A "test"
// compares by parsing or compacting the value it names, again for every test:
// each costs at most the document once more, and its own value. Upstream has
// no such bound; a patch of an object as deep as the API's types (a dozen
// levels), even a long one, never nears it, but a 1 MB value added 2000
// levels deep and walked to its bottom took 28 s, and 10,000 tests of a
// large value would take minutes.
func parseCost(ops jsonpatch.Patch, original, patch int) int64 {
	deepest, tests := 0, 0
	doc := int64(original)
	for _, op := range ops {
		for _, key := range []string{"path", "from"} {
			if raw, ok := op[key]; ok && raw != nil {
				deepest = max(deepest, strings.Count(string(*raw), "/"))
			}
		}
		switch op.Kind() {
		case "test":
			tests++
		case "copy":
			doc += MaxCopyBytes // at most, in all; counted once below
		case "add", "replace":
			if raw, ok := op["value"]; ok && raw != nil {
				doc += int64(len(*raw))
			}
		}
	}
	return int64(deepest+tests)*min(doc, int64(original)+int64(patch)+MaxCopyBytes) + int64(patch)
}
