package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/skiffhq/skiff/pkg/patch"
)

// maxBodyBytes is upstream's limit on a request body (3 MiB).
const maxBodyBytes = 3 * 1024 * 1024

// codecs decodes request bodies in every media type the scheme knows (JSON, YAML,
// protobuf), strictly when asked. Encoding of responses is plain JSON.
var codecs = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)

// fieldValidation is the request's fieldValidation directive.
type fieldValidation string

const (
	validationIgnore fieldValidation = "Ignore"
	validationWarn   fieldValidation = "Warn"
	validationStrict fieldValidation = "Strict"
)

func parseFieldValidation(r *http.Request) (fieldValidation, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", "Warn":
		return validationWarn, nil
	case "Ignore":
		return validationIgnore, nil
	case "Strict":
		return validationStrict, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation parameter unsupported: %q; supported values: Ignore, Warn, Strict", v))
	}
}

// readBody reads a request body, refusing more than maxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, apierrors.NewBadRequest("request body is required")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	if len(data) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	return data, nil
}

// mediaType returns the request's Content-Type without parameters: JSON when
// there is none, as upstream; one that does not parse is returned whole, for
// the decoder to refuse as an unsupported media type.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// decodeInto decodes a request body of the given media type into obj, whose kind is
// gvk. Unknown and duplicate fields fail with Strict, become warnings with Warn.
func decodeInto(data []byte, contentType string, gvk schema.GroupVersionKind, obj runtime.Object, fv fieldValidation) (warnings []string, err error) {
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), contentType)
	if !ok {
		return nil, unsupportedMediaType()
	}
	switch info.MediaType {
	case runtime.ContentTypeJSON:
		if err := checkValues(data); err != nil {
			return nil, err
		}
	case runtime.ContentTypeYAML:
		// A string repeated by alias expands past any body's bound.
		j, err := patch.YAMLToJSON(data)
		if apierrors.IsRequestEntityTooLargeError(err) {
			return nil, err
		}
		if err == nil {
			if err := checkValues(j); err != nil {
				return nil, err
			}
		}
	}
	dec := info.StrictSerializer
	if fv == validationIgnore || dec == nil {
		dec = info.Serializer
	}
	out, gotGVK, err := dec.Decode(data, &gvk, obj)
	if err != nil {
		if runtime.IsStrictDecodingError(err) && out != nil {
			if fv == validationStrict {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
			}
			if se, ok := err.(interface{ Errors() []error }); ok {
				for _, e := range se.Errors() {
					warnings = append(warnings, e.Error())
				}
			}
		} else {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
	}
	if gotGVK != nil && (gotGVK.Kind != gvk.Kind || gotGVK.GroupVersion() != gvk.GroupVersion()) {
		if gotGVK.GroupVersion() != gvk.GroupVersion() {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gotGVK.GroupVersion(), gvk.GroupVersion()))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", gotGVK.Kind, gvk.Kind))
	}
	return warnings, nil
}

// maxBodyValues bounds the objects and arrays a request body may hold. Each
// becomes a struct when decoded into a kind, and an empty one costs two bytes
// of the body and hundreds of the heap: 3 MiB of empty containers in a pod
// allocate 2 GB. No object of the served kinds comes near (an EndpointSlice
// of 1,000 endpoints holds about 4,000); upstream has only its 3 MiB bound.
const maxBodyValues = 100_000

// checkValues refuses JSON holding more than maxBodyValues objects and arrays.
func checkValues(data []byte) error {
	if _, n := patch.Shape(data); n > maxBodyValues {
		return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the body holds more than %d objects and arrays", maxBodyValues))
	}
	return nil
}

// encodeJSON marshals an object as the API serves it: with apiVersion and kind.
// The result is exactly as long as the encoding: the cache keeps thousands.
func encodeJSON(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		jsonBuffers.Put(buf)
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.Clone(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// withResourceVersion turns an object's stored JSON (storedBytes: no
// resourceVersion) into its JSON as served at rv: the encoding of the same
// object with metadata.resourceVersion set. encoding/json writes ObjectMeta's
// fields in declaration order, so resourceVersion goes right after the string
// fields declared before it (name, generateName, namespace, selfLink, uid),
// whichever of them are present. It returns nil when stored does not have that
// shape.
func withResourceVersion(stored []byte, rv string) []byte {
	i := bytes.Index(stored, []byte(`"metadata":{`))
	if i < 0 || rv == "" {
		return nil
	}
	at := i + len(`"metadata":{`)
	for _, name := range []string{`"name":"`, `"generateName":"`, `"namespace":"`, `"selfLink":"`, `"uid":"`} {
		if !bytes.HasPrefix(stored[at:], []byte(name)) {
			continue
		}
		end := endOfString(stored, at+len(name))
		if end < 0 || end >= len(stored) {
			return nil
		}
		at = end
		if stored[at] == ',' {
			at++
		}
	}
	if bytes.HasPrefix(stored[at:], []byte(`"resourceVersion":`)) {
		return nil
	}
	field := `"resourceVersion":"` + rv + `"`
	switch stored[at-1] {
	case '{':
		if stored[at] != '}' {
			field += ","
		}
	case ',':
		field += ","
	default: // the last field before the end of metadata
		field = "," + field
	}
	out := make([]byte, 0, len(stored)+len(field))
	out = append(out, stored[:at]...)
	out = append(out, field...)
	return append(out, stored[at:]...)
}

// endOfString returns the index just past the closing quote of the JSON string
// whose contents start at i, or -1.
func endOfString(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// writeJSON writes a JSON body with the given status code.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeYAML writes an object's JSON as YAML, for a client that asked for
// application/yaml (as `kubectl get --raw` can, and the dashboard's editor).
func writeYAML(w http.ResponseWriter, code int, body []byte) {
	out, err := yaml.JSONToYAML(body)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(code)
	_, _ = w.Write(out)
}

// writeObject encodes and writes a value that already carries its apiVersion/kind.
func writeObject(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	writeJSON(w, code, data)
}

// writeError answers with a metav1.Status carrying upstream's code and reason.
func writeError(w http.ResponseWriter, err error) {
	status := toStatus(err)
	if d := status.Details; d != nil && d.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
	}
	writeObject(w, int(status.Code), status)
}

func toStatus(err error) *metav1.Status {
	var status metav1.Status
	if se, ok := err.(apierrors.APIStatus); ok {
		status = se.Status()
	} else {
		status = apierrors.NewInternalError(err).ErrStatus
	}
	status.Kind = "Status"
	status.APIVersion = "v1"
	if status.Status == "" {
		status.Status = metav1.StatusFailure
	}
	if status.Code == 0 {
		status.Code = http.StatusInternalServerError
	}
	return &status
}

// Warnings are bounded as upstream's warning recorder bounds them: a body
// full of unknown fields would otherwise become as many headers.
const (
	warningRunes     = 4 * 1024 // in all
	warningItemRunes = 256      // each, once the whole would not fit
)

// warn adds upstream-style warning headers: each text once, and when they do
// not fit in warningRunes, each cut to warningItemRunes until they fill it.
func warn(w http.ResponseWriter, warnings []string) {
	seen := make(map[string]bool, len(warnings))
	var texts []string
	total := 0
	for _, m := range warnings {
		if m == "" || seen[m] {
			continue
		}
		seen[m] = true
		texts = append(texts, m)
		total += utf8.RuneCountInString(m)
	}
	written := 0
	for _, m := range texts {
		if total > warningRunes {
			if written >= warningRunes {
				return
			}
			if r := []rune(m); len(r) > warningItemRunes {
				m = string(r[:warningItemRunes])
			}
		}
		h, err := utilnet.NewWarningHeader(299, "-", m)
		if err != nil {
			continue
		}
		w.Header().Add("Warning", h)
		written += utf8.RuneCountInString(m)
	}
}

// unsupportedMediaType is upstream's 415 for a body it cannot read.
func unsupportedMediaType() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
	}}
}
