package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/storage"
)

// maxRetries bounds the read-modify-write loops that retry on a lost race.
const maxRetries = 8

func isDryRun(r *http.Request) (bool, error) {
	for _, v := range r.URL.Query()["dryRun"] {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: supported values: \"All\"", v))
		}
		return true, nil
	}
	return false, nil
}

// storedBytes encodes an object for storage: the revision lives in storage, not
// in the bytes.
func storedBytes(res *Resource, obj runtime.Object) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := acc.GetResourceVersion()
	acc.SetResourceVersion("")
	data, err := encodeJSON(obj, res.GVK)
	acc.SetResourceVersion(rv)
	return data, err
}

// served encodes an object as served at revision rev.
func served(res *Resource, obj runtime.Object, rev int64) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if rev > 0 {
		acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
	return encodeJSON(obj, res.GVK)
}

// readWrite reads what every write request carries: the field validation
// directive, dryRun, and the body.
func readWrite(r *http.Request) (fieldValidation, bool, []byte, error) {
	fv, err := parseFieldValidation(r)
	if err != nil {
		return "", false, nil, err
	}
	dryRun, err := isDryRun(r)
	if err != nil {
		return "", false, nil, err
	}
	body, err := readBody(r)
	return fv, dryRun, body, err
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, req request) {
	fv, dryRun, body, err := readWrite(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj := req.res.New()
	warnings, err := decodeInto(body, mediaType(r), req.res.GVK, obj, fv)
	if err != nil {
		writeError(w, err)
		return
	}
	raw, err := s.create(wantProtobuf(r), req.res, req.namespace, obj, dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	warn(w, warnings)
	s.answerWrite(w, r, req.res, http.StatusCreated, raw)
}

// answerWrite answers a write with the object it left, or with that object's
// one-row table when the client asked for a table, as upstream answers.
func (s *Server) answerWrite(w http.ResponseWriter, r *http.Request, res *Resource, code int, raw []byte) {
	if negotiate(r) == outputTable && res.Cells != nil && !bytes.HasPrefix(raw, protobufMagic) {
		obj := res.New()
		if err := json.Unmarshal(raw, obj); err == nil {
			if e, err := newEntry("", res, obj, nil, 0); err == nil {
				t := s.table(r, res, []*entry{e}, time.Now())
				t.ResourceVersion = objectMeta(obj).ResourceVersion
				writeObject(w, code, t)
				return
			}
		}
	}
	respond(w, code, raw)
}

// Create stores a new object as a POST would (used by the server's own bootstrap).
func (s *Server) Create(ctx context.Context, res *Resource, namespace string, obj runtime.Object) ([]byte, error) {
	return s.create(ctx, res, namespace, obj, false)
}

func (s *Server) create(ctx context.Context, res *Resource, namespace string, obj runtime.Object, dryRun bool) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		switch {
		case acc.GetNamespace() == "":
			acc.SetNamespace(namespace)
		case namespace != "" && acc.GetNamespace() != namespace:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if acc.GetNamespace() == "" {
			return nil, apierrors.NewBadRequest("the namespace of the object is required")
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	// Admission, in upstream's order: NamespaceLifecycle first (a missing
	// namespace is NotFound whatever else is wrong), then NodeRestriction,
	// then the kind's own plugins.
	if res.Namespaced {
		if err := s.checkNamespaceOpen(ctx, acc.GetNamespace()); err != nil {
			return nil, err
		}
	}
	if err := admitNode(ctx, res, obj, nil); err != nil {
		return nil, err
	}
	if res.Admit != nil {
		// As upstream: mutating admission sees the object defaulted (as
		// decoding defaults it there) and before its name is generated.
		if res.Default != nil {
			res.Default(obj)
		}
		if err := res.Admit(ctx, s, obj); err != nil {
			return nil, err
		}
	}
	if acc.GetName() == "" {
		if acc.GetGenerateName() == "" {
			return nil, apierrors.NewInvalid(res.GVK.GroupKind(), "", field.ErrorList{
				field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
		}
		acc.SetName(acc.GetGenerateName() + utilrand.String(5))
	}
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(metav1.Now().Rfc3339Copy())
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	acc.SetManagedFields(nil)
	if res.SpecChanged != nil {
		acc.SetGeneration(1)
	} else {
		acc.SetGeneration(0)
	}
	if res.Status && !res.KeepStatusOnCreate {
		resetField(obj, "Status")
	}
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	if res.Default != nil {
		res.Default(obj)
	}
	if res.Validate != nil {
		if errs := res.Validate(obj); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.GVK.GroupKind(), acc.GetName(), errs)
		}
	}
	if res.Allocates && !dryRun {
		unlock, err := s.lockAllocation(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	if res.BeforeCreate != nil {
		if err := res.BeforeCreate(ctx, s, obj); err != nil {
			return nil, err
		}
	}
	if dryRun {
		return served(res, obj, 0)
	}
	stored, storedObj := toStored(res, obj)
	data, err := storedBytes(stored, storedObj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	key := res.key(acc.GetNamespace(), acc.GetName())
	h := s.cache.expect(key, data, storedObj)
	defer s.cache.withdraw(h)
	rev, err := s.cfg.Storage.Create(ctx, key, data)
	if err != nil {
		if errors.Is(err, storage.ErrKeyExists) {
			return nil, apierrors.NewAlreadyExists(res.groupResource(), acc.GetName())
		}
		return nil, apierrors.NewInternalError(err)
	}
	return s.answer(ctx, res, acc.GetNamespace(), acc.GetName(), obj, data, rev)
}

// answer waits until the cache holds revision rev and returns the object as
// served at that revision: the cache's encoding when it is that version (see
// encodedEntry), and for a JSON client the bytes just stored, data, with the
// revision put in, which is what the cache would derive at more cost.
func (s *Server) answer(ctx context.Context, res *Resource, namespace, name string, obj runtime.Object, data []byte, rev int64) ([]byte, error) {
	if err := s.cache.written(ctx, rev); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if e, _ := s.cache.get(res, res.key(namespace, name)); e != nil && e.rev == rev {
		if e.raw == nil && e.stored && ctx.Value(answerKey{}) == nil {
			if raw := withResourceVersion(data, e.resourceVersion()); raw != nil {
				return raw, nil
			}
		}
		return encodedEntry(ctx, e), nil
	}
	return served(res, obj, rev)
}

// checkNamespaceOpen refuses writes into a missing or terminating namespace.
func (s *Server) checkNamespaceOpen(ctx context.Context, ns string) error {
	nsRes := s.reg.Lookup("v1", "namespaces")
	if nsRes == nil {
		return nil
	}
	e, err := s.lookup(ctx, nsRes, nsRes.key("", ns))
	if err != nil {
		return err
	}
	if e == nil {
		return apierrors.NewNotFound(nsRes.groupResource(), ns)
	}
	if e.deleting {
		err := apierrors.NewForbidden(nsRes.groupResource(), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: "NamespaceTerminating", Field: "metadata.namespace", Message: "namespace is terminating"})
		return err
	}
	return nil
}

// resetField sets a top-level struct field (Spec, Status) to its zero value.
func resetField(obj runtime.Object, name string) {
	v := reflect.ValueOf(obj).Elem().FieldByName(name)
	if v.IsValid() && v.CanSet() {
		v.Set(reflect.Zero(v.Type()))
	}
}

// copyField copies a top-level struct field from src to dst.
func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	sv := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && sv.IsValid() && d.CanSet() {
		d.Set(sv)
	}
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, req request, mode writeMode) {
	fv, dryRun, body, err := readWrite(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj := req.res.New()
	warnings, err := decodeInto(body, mediaType(r), req.res.GVK, obj, fv)
	if err != nil {
		writeError(w, err)
		return
	}
	acc, _ := meta.Accessor(obj)
	if acc.GetName() != req.name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), req.name)))
		return
	}
	if req.res.Namespaced && acc.GetNamespace() != "" && acc.GetNamespace() != req.namespace {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	raw, code, err := s.updateWith(wantProtobuf(r), req, mode, dryRun, func(old runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	warn(w, warnings)
	s.answerWrite(w, r, req.res, code, raw)
}

// mutateFunc computes the new object from the stored one (nil when creating).
type mutateFunc func(old runtime.Object) (runtime.Object, error)

// updateWith runs a read-modify-write loop: read the cached object, compute the
// new one, validate, compare-and-swap. A lost race is retried unless the client
// named the resourceVersion it read, which then gets 409.
func (s *Server) updateWith(ctx context.Context, req request, mode writeMode, dryRun bool, mutate mutateFunc) ([]byte, int, error) {
	res := req.res
	key := res.key(req.namespace, req.name)
	for attempt := 0; ; attempt++ {
		old, err := s.lookup(ctx, res, key)
		if err != nil {
			return nil, 0, err
		}
		if old == nil {
			if res.AllowCreateOnUpdate && mode == writeMain {
				obj, err := mutate(nil)
				if err != nil {
					return nil, 0, err
				}
				if acc, err := meta.Accessor(obj); err == nil {
					acc.SetResourceVersion("")
				}
				raw, err := s.create(ctx, res, req.namespace, obj, dryRun)
				return raw, http.StatusCreated, err
			}
			return nil, 0, apierrors.NewNotFound(res.groupResource(), req.name)
		}
		oldObj, err := old.object()
		if err != nil {
			return nil, 0, apierrors.NewInternalError(err)
		}
		obj, err := mutate(oldObj.DeepCopyObject())
		if err != nil {
			return nil, 0, err
		}
		raw, err := s.update(ctx, res, old, oldObj, obj, mode, req.part, dryRun)
		if errors.Is(err, errRetry) && attempt < maxRetries {
			// Someone wrote between our read and our write: make sure the cache
			// has their write, then try again on top of it.
			if cur, err := s.cfg.Storage.Get(ctx, key); err == nil {
				_ = s.cache.waitFor(ctx, cur.ModRevision)
			}
			continue
		}
		if errors.Is(err, errRetry) {
			return nil, 0, conflict(res, req.name)
		}
		return raw, http.StatusOK, err
	}
}

// errRetry means the compare-and-swap lost to another writer.
var errRetry = errors.New("retry")

func conflict(res *Resource, name string) error {
	return apierrors.NewConflict(res.groupResource(), name,
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

// writeMode says which part of an object a write may change.
type writeMode int

const (
	writeMain   writeMode = iota // the resource: status is kept from storage
	writeStatus                  // the status subresource: spec is kept
	writeWhole                   // server-side subresources (binding, finalize)
	writePart                    // a part subresource: the rest is kept
)

// update validates and stores obj over old, whose object is oldObj. Both objects
// are the caller's; update changes obj. part is what a writePart changes.
func (s *Server) update(ctx context.Context, res *Resource, old *entry, oldObj, obj runtime.Object, mode writeMode, part *Part, dryRun bool) ([]byte, error) {
	status := mode == writeStatus
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	oldMeta := objectMeta(oldObj)
	name := oldMeta.Name
	switch rv := acc.GetResourceVersion(); {
	case rv == "" && res.RequireResourceVersion:
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: res.GVK.Group, Kind: res.Name}, name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "resourceVersion"), 0, "must be specified for an update")})
	case rv == "":
		// An unconditional update: of whatever is stored now, as upstream.
		acc.SetResourceVersion(oldMeta.ResourceVersion)
	case rv != oldMeta.ResourceVersion && s.newerThanCached(rv, old):
		// Read through another server: retried once the cache has it.
		return nil, errRetry
	case rv != oldMeta.ResourceVersion:
		return nil, conflict(res, name)
	}
	if res.Namespaced && acc.GetNamespace() == "" {
		acc.SetNamespace(oldMeta.Namespace)
	}
	switch uid := acc.GetUID(); {
	case uid == "":
		acc.SetUID(oldMeta.UID)
	case uid != oldMeta.UID:
		// A UID in the body is a precondition, as upstream treats it.
		return nil, preconditionFailed(res, name, "UID", string(uid), string(oldMeta.UID))
	}
	if mode == writePart {
		// The preconditions were the client's; all else but the part is stored.
		kept := oldObj.DeepCopyObject()
		part.Take(kept, obj)
		obj = kept
		if acc, err = meta.Accessor(obj); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if ts := acc.GetCreationTimestamp(); ts.IsZero() {
		acc.SetCreationTimestamp(oldMeta.CreationTimestamp)
	}
	// Clients cannot move deletion state or generation.
	acc.SetDeletionTimestamp(oldMeta.DeletionTimestamp)
	acc.SetDeletionGracePeriodSeconds(oldMeta.DeletionGracePeriodSeconds)
	acc.SetGeneration(oldMeta.Generation)
	acc.SetSelfLink("")
	acc.SetManagedFields(oldMeta.ManagedFields)
	if status {
		copyField(obj, oldObj, "Spec")
		acc.SetOwnerReferences(oldMeta.OwnerReferences)
		if res.PrepareForStatusUpdate != nil {
			res.PrepareForStatusUpdate(obj, oldObj)
		}
	} else if res.Status && mode == writeMain {
		copyField(obj, oldObj, "Status")
	}
	if mode == writeMain && res.PrepareForUpdate != nil {
		if res.Allocates && !dryRun {
			unlock, err := s.lockAllocation(ctx)
			if err != nil {
				return nil, err
			}
			defer unlock()
		}
		if err := res.PrepareForUpdate(ctx, s, obj, oldObj); err != nil {
			return nil, err
		}
	}
	if res.Default != nil {
		res.Default(obj)
	}
	if mode == writeMain && res.AdmitUpdate != nil {
		if err := res.AdmitUpdate(ctx, s, obj, oldObj); err != nil {
			return nil, err
		}
	}
	// A binding moves spec.nodeName without a new generation, as upstream's.
	if res.SpecChanged != nil && (mode == writeMain || mode == writePart) && res.SpecChanged(obj, oldObj) {
		acc.SetGeneration(oldMeta.Generation + 1)
	}
	validate := res.ValidateUpdate
	switch {
	case status && res.ValidateStatusUpdate != nil:
		validate = res.ValidateStatusUpdate
	case mode == writePart:
		validate = part.Validate
	case mode == writeWhole:
		// Binding and finalize change what clients may not, and check their own input.
		validate = nil
	}
	if err := admitNode(ctx, res, obj, oldObj); err != nil {
		return nil, err
	}
	if validate != nil {
		if errs := validate(obj, oldObj); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.GVK.GroupKind(), name, errs)
		}
	}
	// Validating admission of a subresource write: after validation, as upstream.
	admit := res.AdmitStatusUpdate
	if mode == writePart {
		admit = part.Admit
	}
	if (status || mode == writePart) && admit != nil {
		if err := admit(ctx, s, obj, oldObj); err != nil {
			return nil, err
		}
	}
	data, err := storedBytes(res, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if unchanged(res, old, obj, data) {
		// Nothing changed: upstream answers with the stored object and writes nothing.
		return encodedEntry(ctx, old), nil
	}
	// The last finalizer leaving an object that is being deleted deletes it.
	if acc.GetDeletionTimestamp() != nil && len(acc.GetFinalizers()) == 0 && !hasSpecFinalizers(obj) {
		if dryRun {
			return served(res, obj, old.rev)
		}
		rev, err := s.cfg.Storage.Delete(ctx, old.key, old.rev)
		if err != nil {
			return nil, storageWriteError(err, res, name)
		}
		if err := s.cache.written(ctx, rev); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return served(res, obj, rev)
	}
	if dryRun {
		return served(res, obj, old.rev)
	}
	storedObj := obj
	if res.base != nil {
		var stored *Resource
		stored, storedObj = toStored(res, obj)
		if data, err = storedBytes(stored, storedObj); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	h := s.cache.expect(old.key, data, storedObj)
	defer s.cache.withdraw(h)
	rev, err := s.cfg.Storage.Update(ctx, old.key, data, old.rev)
	if err != nil {
		return nil, storageWriteError(err, res, name)
	}
	return s.answer(ctx, res, oldMeta.Namespace, name, obj, data, rev)
}

// toStored is what storage keeps of obj, an object of res, and of which kind:
// for a view, obj converted to the kind it views.
func toStored(res *Resource, obj runtime.Object) (*Resource, runtime.Object) {
	if res.base == nil {
		return res, obj
	}
	return res.base, res.Of.FromView(obj)
}

// storedForm is an entry's encoding without its resourceVersion: what storing it
// again would write. Derived from the cached bytes, because cached objects are
// shared by concurrent readers and must never be touched.
func storedForm(e *entry) []byte {
	if e.raw == nil {
		data, err := storedBytes(e.res, e.mustObject())
		if err != nil {
			panic(fmt.Errorf("encoding cached %q: %w", e.key, err))
		}
		return data
	}
	rv := []byte(`,"resourceVersion":"` + e.resourceVersion() + `"`)
	// metadata comes first in every kind, so the first match is its field.
	return bytes.Replace(e.raw, rv, nil, 1)
}

// unchanged reports whether obj, whose stored encoding is data, is what old
// already stores. An entry that keeps only protobuf is compared in protobuf (as
// upstream, which stores protobuf, compares), which spares deriving its JSON on
// every update.
func unchanged(res *Resource, old *entry, obj runtime.Object, data []byte) bool {
	if old.raw != nil || old.pb == nil {
		return bytes.Equal(data, storedForm(old))
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	rv := acc.GetResourceVersion()
	acc.SetResourceVersion(old.resourceVersion())
	obj.GetObjectKind().SetGroupVersionKind(res.GVK)
	pb, err := encodeProtobuf(obj)
	acc.SetResourceVersion(rv)
	return err == nil && bytes.Equal(pb, old.pb)
}

// storageWriteError maps storage errors of a compare-and-swap write.
func storageWriteError(err error, res *Resource, name string) error {
	switch {
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		return errRetry
	default:
		return apierrors.NewInternalError(err)
	}
}

// hasSpecFinalizers reports whether a namespace still waits for spec.finalizers.
func hasSpecFinalizers(obj runtime.Object) bool {
	v := reflect.ValueOf(obj).Elem().FieldByName("Spec")
	if !v.IsValid() {
		return false
	}
	f := v.FieldByName("Finalizers")
	return f.IsValid() && f.Kind() == reflect.Slice && f.Len() > 0 && reflect.TypeOf(obj).Elem().Name() == "Namespace"
}

// preconditionFailed is the Conflict for a failed UID or resourceVersion precondition.
func preconditionFailed(res *Resource, name, what string, want, got string) error {
	return apierrors.NewConflict(res.groupResource(), name,
		fmt.Errorf("Precondition failed: %s in precondition: %v, %s in object meta: %v", what, want, what, got))
}

// nowRFC3339 is metav1.Now at second precision, as stored timestamps are.
func nowRFC3339() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

// Get implements Getter from the cache.
func (s *Server) Get(groupVersion, resource, namespace, name string) runtime.Object {
	res := s.reg.Lookup(groupVersion, resource)
	if res == nil {
		return nil
	}
	e, _ := s.cache.get(res, res.key(namespace, name))
	if e == nil {
		return nil
	}
	obj, err := e.object()
	if err != nil {
		return nil
	}
	return obj
}

// List implements View from the cache.
func (s *Server) List(groupVersion, resource string) []runtime.Object {
	res := s.reg.Lookup(groupVersion, resource)
	if res == nil {
		return nil
	}
	items, _ := s.cache.list(res, "", nil)
	out := make([]runtime.Object, 0, len(items))
	for _, e := range items {
		if obj, err := e.object(); err == nil {
			out = append(out, obj)
		}
	}
	return out
}
