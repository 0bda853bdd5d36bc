package apiserver

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// freshnessWait is how long a read that asks for a revision the cache has not
// reached yet waits for it, as upstream's watch cache, before answering 504.
var freshnessWait = 3 * time.Second

// parseResourceVersion parses a resourceVersion parameter as upstream's
// storage does: "" and "0" are 0 (any), anything but a revision is invalid.
func parseResourceVersion(rv string) (int64, *field.Error) {
	if rv == "" || rv == "0" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if err == nil && n > math.MaxInt64 {
		err = strconv.ErrRange
	}
	if err != nil {
		return 0, field.Invalid(field.NewPath("resourceVersion"), rv, err.Error())
	}
	return int64(n), nil
}

// badResourceVersion is upstream's 400 for a read at a resourceVersion that
// is not one.
func badResourceVersion(ferr *field.Error) error {
	return apierrors.NewBadRequest("invalid resource version: " + ferr.Error())
}

// listRevision is the revision a list is served at (0 for the latest), once
// the cache holds it. As upstream: resourceVersionMatch=Exact, or a
// resourceVersion with a limit and no match (the legacy paging form), asks for
// that revision's snapshot; a resourceVersion alone asks for one at least as
// new.
func (s *Server) listRevision(ctx context.Context, opts metainternalversion.ListOptions) (int64, error) {
	rev, ferr := parseResourceVersion(opts.ResourceVersion)
	if ferr != nil {
		return 0, badResourceVersion(ferr)
	}
	if rev == 0 {
		if opts.ResourceVersion == "" {
			// The latest state.
			return 0, s.consistentRead(ctx)
		}
		return 0, nil
	}
	if err := s.waitFresh(ctx, rev); err != nil {
		return 0, err
	}
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact || opts.ResourceVersionMatch == "" && opts.Limit > 0 {
		return rev, nil
	}
	return 0, nil
}

// waitFresh waits until the cache holds revision rev, briefly: a revision
// newer than ours is one we will see soon (a write in flight), or one that
// does not exist yet, which is upstream's 504.
func (s *Server) waitFresh(ctx context.Context, rev int64) error {
	if s.cache.currentRev() >= rev {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, freshnessWait)
	defer cancel()
	if err := s.cache.waitFor(wctx, rev); err != nil {
		return tooLargeResourceVersion(rev, s.cache.currentRev())
	}
	return nil
}

// tooLargeResourceVersion is upstream's answer for a revision that is not
// there yet: 504, to be retried.
func tooLargeResourceVersion(rev, current int64) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusGatewayTimeout, Reason: metav1.StatusReasonTimeout,
		Message: fmt.Sprintf("Too large resource version: %d, current: %d", rev, current),
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}, RetryAfterSeconds: 1},
	}}
}

// errTooOld is upstream's 410 for a revision whose history is gone.
func errTooOld(rev, oldest int64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, oldest+1))
}

// continueExpired is upstream's 410 for a continue token whose snapshot is
// gone, with a token that goes on from the same place in the latest state.
func continueExpired(lastKey string) error {
	err := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. " +
		"Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
	err.ErrStatus.ListMeta.Continue = encodeContinue(0, lastKey)
	return err
}
