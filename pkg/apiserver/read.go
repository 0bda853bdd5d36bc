package apiserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metainternalversionvalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
)

// getEntry returns the cached object a request names, or a NotFound Status.
func (s *Server) getEntry(ctx context.Context, req request) (*entry, error) {
	e, err := s.lookup(ctx, req.res, req.res.key(req.namespace, req.name))
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, apierrors.NewNotFound(req.res.groupResource(), req.name)
	}
	return e, nil
}

// lookup returns the cached entry for key, nil if there is none. On a
// datastore other servers write to, a miss may be an object another server
// has just made that the cache has yet to see: it is looked up again after a
// consistent read, so that a write right after it (or a subresource of it)
// finds it whichever server it comes through.
func (s *Server) lookup(ctx context.Context, res *Resource, key string) (*entry, error) {
	e, _ := s.cache.get(res, key)
	if e != nil || !s.cfg.SharedStorage {
		return e, nil
	}
	if err := s.consistentRead(ctx); err != nil {
		return nil, err
	}
	e, _ = s.cache.get(res, key)
	return e, nil
}

// newerThanCached reports whether resourceVersion rv, which a client read
// somewhere, is newer than the cached entry e: on a shared datastore, a
// write through another server this cache has yet to see.
func (s *Server) newerThanCached(rv string, e *entry) bool {
	n, err := strconv.ParseInt(rv, 10, 64)
	return s.cfg.SharedStorage && err == nil && n > e.rev
}

// Exists reports whether the cache holds an object (used by the server's own
// reconcilers, which must not write when nothing is missing).
func (s *Server) Exists(res *Resource, namespace, name string) bool {
	e, _ := s.cache.get(res, res.key(namespace, name))
	return e != nil
}

// outputKind is what the client asked the body to be.
type outputKind int

const (
	outputObject outputKind = iota
	outputTable
	outputPartialMetadata
	outputProtobuf
	outputYAML
)

// negotiate reads the Accept header of a request whose answer was found
// acceptable (see negotiateAccept).
func negotiate(r *http.Request) outputKind {
	out, _ := negotiateAccept(r.Header.Get("Accept"), true)
	return out
}

// mediaTypes are what this server answers in, in upstream's words.
const mediaTypes = "application/json, application/yaml, application/vnd.kubernetes.protobuf"

// negotiateAccept picks the answer to an Accept header as upstream does: the
// first clause the endpoint can answer wins, tables only where it prints them;
// a header none of whose clauses it can answer is not acceptable (406). No
// header means JSON.
func negotiateAccept(accept string, tables bool) (outputKind, bool) {
	if accept == "" {
		return outputObject, true
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		if out, ok := acceptClause(mt, params, tables); ok {
			return out, true
		}
	}
	return outputObject, false
}

func acceptClause(mt string, params map[string]string, tables bool) (outputKind, bool) {
	out := outputObject
	switch mt {
	case "application/json", "application/*", "*/*":
	case protobufType:
		out = outputProtobuf
	case "application/yaml":
		out = outputYAML
	default:
		return 0, false
	}
	if s := params["stream"]; s != "" && (s != "watch" || out == outputYAML) {
		return 0, false
	}
	as := params["as"]
	if as == "" && params["g"] == "" && params["v"] == "" {
		return out, true
	}
	// Tables and metadata are served as JSON.
	if out != outputObject || params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
		return 0, false
	}
	switch as {
	case "Table":
		return outputTable, tables
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		return outputPartialMetadata, true
	}
	return 0, false
}

// notAcceptable is upstream's answer to an Accept header it cannot satisfy.
func notAcceptable() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotAcceptable, Reason: metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: " + mediaTypes,
	}}
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, req request) {
	if v := queryValue(r, "resourceVersion"); v == "" {
		// The latest state.
		if err := s.consistentRead(r.Context()); err != nil {
			writeError(w, err)
			return
		}
	} else if v != "0" {
		// The object as of that revision or later.
		rev, ferr := parseResourceVersion(v)
		if ferr != nil {
			writeError(w, badResourceVersion(ferr))
			return
		}
		if err := s.waitFresh(r.Context(), rev); err != nil {
			writeError(w, err)
			return
		}
	}
	// Fresh enough as the resourceVersion asked: what the cache holds is
	// the answer, a miss included.
	e, _ := s.cache.get(req.res, req.res.key(req.namespace, req.name))
	if e == nil {
		writeError(w, apierrors.NewNotFound(req.res.groupResource(), req.name))
		return
	}
	switch req.output {
	case outputTable:
		t := s.table(r, req.res, []*entry{e}, time.Now())
		t.ResourceVersion = strconv.FormatInt(e.rev, 10)
		writeObject(w, http.StatusOK, t)
	case outputPartialMetadata:
		writeJSON(w, http.StatusOK, partialMetadata(e))
	case outputProtobuf:
		pb, err := e.protobuf()
		if err != nil {
			writeJSON(w, http.StatusOK, s.entryJSON(r.Context(), e))
			return
		}
		writeProtobuf(w, http.StatusOK, pb)
	case outputYAML:
		writeYAML(w, http.StatusOK, s.entryJSON(r.Context(), e))
	default:
		writeJSON(w, http.StatusOK, s.entryJSON(r.Context(), e))
	}
}

// listOptions decodes and checks the query of a list, watch or
// deletecollection as upstream does: with its parameter codec (so booleans
// and integers parse as upstream's), then its ListOptions validation.
func listOptions(r *http.Request, watch bool) (metainternalversion.ListOptions, error) {
	var opts metainternalversion.ListOptions
	if err := metainternalversionscheme.ParameterCodec.DecodeParameters(r.URL.Query(), metav1.SchemeGroupVersion, &opts); err != nil {
		return opts, apierrors.NewBadRequest(err.Error())
	}
	opts.Watch = opts.Watch || watch
	if errs := metainternalversionvalidation.ValidateListOptions(&opts, true); len(errs) > 0 {
		return opts, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	return opts, nil
}

// selectors parses labelSelector and fieldSelector into one match function.
func (s *Server) selectors(r *http.Request, res *Resource) (func(*entry) bool, error) {
	opts, err := listOptions(r, false)
	if err != nil {
		return nil, err
	}
	return matcher(res, opts)
}

// maxSelectorRequirements bounds a label or field selector: every object a
// list reads, and every event a watch sees, is matched against each of its
// requirements (50,000 of them, which a 1 MiB URL holds, cost 7 s of CPU for
// a list of 10,000 objects). Upstream bounds them only by the URL's length;
// no client sends more than a few (a set of values is one requirement).
const maxSelectorRequirements = 100

// matcher turns the selectors of opts into one match function (nil for all).
// A field selector may only name the kind's selectable fields.
func matcher(res *Resource, opts metainternalversion.ListOptions) (func(*entry) bool, error) {
	ls, fs := opts.LabelSelector, opts.FieldSelector
	if ls != nil && ls.Empty() {
		ls = nil
	}
	if fs != nil && fs.Empty() {
		fs = nil
	}
	if fs != nil {
		known := selectableFields(res, res.New())
		for _, req := range fs.Requirements() {
			if _, ok := known[req.Field]; !ok {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
			if req.Operator != selection.Equals && req.Operator != selection.DoubleEquals && req.Operator != selection.NotEquals {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid selector operator %q", req.Operator))
			}
		}
	}
	if ls != nil {
		if reqs, _ := ls.Requirements(); len(reqs) > maxSelectorRequirements {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector has %d requirements, more than the %d allowed", len(reqs), maxSelectorRequirements))
		}
	}
	if fs != nil && len(fs.Requirements()) > maxSelectorRequirements {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector has %d requirements, more than the %d allowed", len(fs.Requirements()), maxSelectorRequirements))
	}
	if ls == nil && fs == nil {
		return nil, nil
	}
	return func(e *entry) bool {
		if ls != nil && !ls.Matches(e.labels) {
			return false
		}
		if fs != nil && !fs.Matches(e.fields) {
			return false
		}
		return true
	}, nil
}

// selectableFields are the fields a field selector may name for an object.
func selectableFields(res *Resource, obj runtime.Object) fields.Set {
	set := fields.Set{}
	if res.Fields != nil {
		set = res.Fields(obj)
	}
	if m, ok := obj.(metav1.Object); ok {
		set["metadata.name"] = m.GetName()
		if res.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// continueToken is the opaque paging cursor: the last key served.
type continueToken struct {
	Version string `json:"v"`
	RV      int64  `json:"rv"`
	Start   string `json:"start"`
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(data, &t)
	}
	if err != nil || t.Version != "meta.k8s.io/v1" {
		return t, apierrors.NewBadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	return t, nil
}

func encodeContinue(rv int64, lastKey string) string {
	data, _ := json.Marshal(continueToken{Version: "meta.k8s.io/v1", RV: rv, Start: lastKey})
	return base64.RawURLEncoding.EncodeToString(data)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := listOptions(r, false)
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := matcher(req.res, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	var start string
	at := int64(0) // the revision to list at; 0 for the latest
	if opts.Continue != "" {
		if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			writeError(w, apierrors.NewBadRequest("specifying resource version is not allowed when using continue"))
			return
		}
		t, err := decodeContinue(opts.Continue)
		if err != nil {
			writeError(w, err)
			return
		}
		start, at = t.Start, t.RV
	} else if at, err = s.listRevision(r.Context(), opts); err != nil {
		writeError(w, err)
		return
	}
	items, rev, err := s.cache.listAt(req.res, req.namespace, match, at)
	if err != nil {
		if opts.Continue != "" && apierrors.IsResourceExpired(err) {
			err = continueExpired(start)
		}
		writeError(w, err)
		return
	}
	if start != "" {
		i := 0
		for i < len(items) && items[i].key <= start {
			i++
		}
		items = items[i:]
	}
	var cont string
	var remaining *int64
	if limit := opts.Limit; limit > 0 && int64(len(items)) > limit {
		left := int64(len(items)) - limit
		items = items[:limit]
		cont = encodeContinue(rev, items[len(items)-1].key)
		if match == nil {
			remaining = &left
		}
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10), Continue: cont, RemainingItemCount: remaining}
	switch req.output {
	case outputTable:
		t := s.table(r, req.res, items, time.Now())
		t.ListMeta = lm
		writeObject(w, http.StatusOK, t)
	case outputPartialMetadata:
		var buf bytes.Buffer
		buf.WriteString(`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":`)
		buf.Write(mustJSON(lm))
		buf.WriteString(`,"items":[`)
		for i, e := range items {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(partialMetadata(e))
		}
		buf.WriteString("]}")
		writeJSON(w, http.StatusOK, buf.Bytes())
	case outputProtobuf:
		if pb, err := listProtobuf(req.res, lm, items); err == nil {
			writeProtobuf(w, http.StatusOK, pb)
			return
		}
		writeJSON(w, http.StatusOK, listJSON(req.res, lm, s.jsonOf(r.Context(), req.res, req.namespace, items)))
	default:
		writeJSON(w, http.StatusOK, listJSON(req.res, lm, s.jsonOf(r.Context(), req.res, req.namespace, items)))
	}
}

// listJSON makes a list of the items' JSON (see Server.jsonOf).
func listJSON(res *Resource, lm metav1.ListMeta, raws [][]byte) []byte {
	size := 128
	for _, raw := range raws {
		size += len(raw) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteString(`{"kind":"`)
	buf.WriteString(res.GVK.Kind)
	buf.WriteString(`List","apiVersion":"`)
	buf.WriteString(res.GroupVersion())
	buf.WriteString(`","metadata":`)
	buf.Write(mustJSON(lm))
	buf.WriteString(`,"items":[`)
	for i, raw := range raws {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(raw)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// parallel runs do(0..n-1): on every core when n is big enough to be worth it.
func parallel(n int, do func(i int)) {
	workers := 1
	if n >= 1024 {
		workers = goruntime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				do(i)
			}
		})
	}
	wg.Wait()
}

func objectMeta(obj runtime.Object) *metav1.ObjectMeta {
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if m, ok := a.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return m
		}
	}
	return &metav1.ObjectMeta{}
}

func partialMetadata(e *entry) []byte { return partialMetadataOf(e.mustObject()) }

func partialMetadataOf(obj runtime.Object) []byte {
	return mustJSON(&metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: *objectMeta(obj),
	})
}

// table renders entries as a meta.k8s.io/v1 Table.
func (s *Server) table(r *http.Request, res *Resource, items []*entry, now time.Time) *metav1.Table {
	include := r.URL.Query().Get("includeObject")
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ColumnDefinitions: res.Columns,
		Rows:              make([]metav1.TableRow, len(items)),
	}
	// Each row decodes its object: a big table is worth every core.
	parallel(len(items), func(i int) { t.Rows[i] = tableRow(res, items[i], include, now) })
	return t
}

func tableRow(res *Resource, e *entry, include string, now time.Time) metav1.TableRow {
	obj := e.mustObject()
	row := metav1.TableRow{Cells: res.Cells(obj, now)}
	switch include {
	case "None":
	case "Object":
		row.Object = runtime.RawExtension{Raw: e.json()}
	default:
		row.Object = runtime.RawExtension{Raw: partialMetadataOf(obj)}
	}
	return row
}
