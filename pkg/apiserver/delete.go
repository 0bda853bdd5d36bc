package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/patch"
)

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if r.ContentLength != 0 && r.Body != nil {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			// DeleteOptions is accepted in every group version (clients send their
			// own group's), so only the kind is checked.
			switch mt := mediaType(r); mt {
			case "application/json", "application/yaml", "":
				if body, err = patch.JSONBody(body); err != nil {
					return nil, err
				}
				if err := json.Unmarshal(body, opts); err != nil {
					return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding DeleteOptions: %v", err))
				}
			default:
				if _, _, err := codecs.UniversalDeserializer().Decode(body, nil, opts); err != nil {
					return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding DeleteOptions (%s): %v", mt, err))
				}
			}
			if opts.Kind != "" && opts.Kind != "DeleteOptions" {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (DeleteOptions)", opts.Kind))
			}
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error()) // as upstream's parameter codec words it
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if q.Has("dryRun") {
		opts.DryRun = q["dryRun"]
	}
	if q.Has("orphanDependents") {
		orphan := queryBool(q, "orphanDependents")
		opts.OrphanDependents = &orphan //nolint:staticcheck // deprecated, but old clients send it
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\"", *opts.PropagationPolicy))
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	for _, v := range opts.DryRun {
		if v != "All" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: supported values: \"All\"", v))
		}
	}
	return opts, nil
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	raw, err := s.delete(r.Context(), req, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

// Delete removes an object as a DELETE request would (used by the server itself).
func (s *Server) Delete(ctx context.Context, res *Resource, namespace, name string, opts *metav1.DeleteOptions) error {
	_, err := s.delete(ctx, request{res: res, namespace: namespace, name: name}, opts)
	return err
}

// delete runs upstream's deletion: preconditions, finalizers from the propagation
// policy, graceful marking (deletionTimestamp) when the object must wait, and the
// storage delete otherwise.
func (s *Server) delete(ctx context.Context, req request, opts *metav1.DeleteOptions) ([]byte, error) {
	res := req.res
	dryRun := len(opts.DryRun) > 0
	for attempt := 0; ; attempt++ {
		old, err := s.getEntry(ctx, req)
		if err != nil {
			return nil, err
		}
		obj, err := old.object()
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		oldMeta := objectMeta(obj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != oldMeta.UID {
				return nil, preconditionFailed(res, req.name, "UID", string(*p.UID), string(oldMeta.UID))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != oldMeta.ResourceVersion && s.newerThanCached(*p.ResourceVersion, old) && attempt < maxRetries {
				// Read through another server: the cache catches up first.
				if err := s.consistentRead(ctx); err != nil {
					return nil, err
				}
				continue
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != oldMeta.ResourceVersion {
				return nil, preconditionFailed(res, req.name, "ResourceVersion", *p.ResourceVersion, oldMeta.ResourceVersion)
			}
		}
		acc, _ := meta.Accessor(obj)
		finalizers := propagationFinalizers(acc.GetFinalizers(), opts, res.OrphanByDefault)
		grace, graceful := int64(0), false
		if res.Graceful != nil {
			grace, graceful = res.Graceful(obj, opts.GracePeriodSeconds)
		}
		mustWait := len(finalizers) > 0 || (graceful && grace > 0) || hasSpecFinalizers(obj)
		var rev int64
		var h *handoff
		if mustWait {
			changed := !slices.Equal(finalizers, acc.GetFinalizers())
			acc.SetFinalizers(finalizers)
			now := time.Now().Truncate(time.Second)
			if dt := acc.GetDeletionTimestamp(); dt == nil {
				ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
				acc.SetDeletionTimestamp(&ts)
				acc.SetDeletionGracePeriodSeconds(&grace)
				// The object's controllers must now behave differently: a
				// new generation, as upstream's (for kinds that keep one).
				if g := acc.GetGeneration(); g > 0 {
					acc.SetGeneration(g + 1)
				}
				changed = true
			} else if cur := acc.GetDeletionGracePeriodSeconds(); graceful && (cur == nil || grace < *cur) {
				// A shorter grace period may replace a longer one (kubectl delete --now).
				ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
				acc.SetDeletionTimestamp(&ts)
				acc.SetDeletionGracePeriodSeconds(&grace)
				changed = true
			}
			if res.MarkDeleting != nil {
				res.MarkDeleting(obj)
				changed = true
			}
			if !changed || dryRun {
				return served(res, obj, old.rev)
			}
			stored, storedObj := toStored(res, obj)
			data, err := storedBytes(stored, storedObj)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			h = s.cache.expect(old.key, data, storedObj)
			rev, err = s.cfg.Storage.Update(ctx, old.key, data, old.rev)
			if err != nil {
				s.cache.withdraw(h)
			}
			if err = s.retryable(ctx, err, old.key); errors.Is(err, errRetry) && attempt < maxRetries {
				continue
			} else if err != nil {
				return nil, finalError(err, res, req.name)
			}
		} else {
			if dryRun {
				return old.json(), nil
			}
			rev, err = s.cfg.Storage.Delete(ctx, old.key, old.rev)
			if err = s.retryable(ctx, err, old.key); errors.Is(err, errRetry) && attempt < maxRetries {
				continue
			} else if err != nil {
				return nil, finalError(err, res, req.name)
			}
		}
		err = s.cache.written(ctx, rev)
		if h != nil {
			s.cache.withdraw(h)
		}
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return served(res, obj, rev)
	}
}

// retryable turns a lost compare-and-swap into errRetry after letting the cache
// catch up with the winner.
func (s *Server) retryable(ctx context.Context, err error, key string) error {
	if err == nil {
		return nil
	}
	if e := storageWriteError(err, nil, ""); errors.Is(e, errRetry) {
		if cur, gerr := s.cfg.Storage.Get(ctx, key); gerr == nil {
			_ = s.cache.waitFor(ctx, cur.ModRevision)
		} else {
			_ = s.cache.waitFor(ctx, s.cache.currentRev()+1)
		}
		return errRetry
	}
	return apierrors.NewInternalError(err)
}

func finalError(err error, res *Resource, name string) error {
	if errors.Is(err, errRetry) {
		return conflict(res, name)
	}
	return err
}

// propagationFinalizers applies a delete's propagation policy to the
// finalizers; a delete that names none orphans the dependents of a kind that
// does so by default (orphan), unless a policy is already pending.
func propagationFinalizers(cur []string, opts *metav1.DeleteOptions, orphan bool) []string {
	out := slices.Clone(cur)
	policy := opts.PropagationPolicy
	//nolint:staticcheck // OrphanDependents is deprecated but still sent by old clients.
	if policy == nil && opts.OrphanDependents != nil {
		p := metav1.DeletePropagationBackground
		if *opts.OrphanDependents {
			p = metav1.DeletePropagationOrphan
		}
		policy = &p
	}
	if policy == nil {
		pending := slices.Contains(out, metav1.FinalizerOrphanDependents) || slices.Contains(out, metav1.FinalizerDeleteDependents)
		if orphan && !pending {
			out = append(out, metav1.FinalizerOrphanDependents)
		}
		return out
	}
	out = slices.DeleteFunc(out, func(f string) bool {
		return f == metav1.FinalizerOrphanDependents || f == metav1.FinalizerDeleteDependents
	})
	switch *policy {
	case metav1.DeletePropagationOrphan:
		out = append(out, metav1.FinalizerOrphanDependents)
	case metav1.DeletePropagationForeground:
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := s.selectors(r, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	items, _ := s.cache.list(req.res, req.namespace, match)
	for _, e := range items {
		_, err := s.delete(r.Context(), request{res: req.res, namespace: e.namespace, name: e.name}, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			writeError(w, err)
			return
		}
	}
	writeObject(w, http.StatusOK, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
	})
}
