package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// Protobuf is what client-go asks for when configured for it (our in-process
// components are): several times cheaper to decode than JSON, which dominates
// an informer's CPU during a storm.
const protobufType = "application/vnd.kubernetes.protobuf"

var pbSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// errNoProtobuf: the kind has no protobuf encoding; clients get JSON instead.
var errNoProtobuf = errors.New("no protobuf encoding")

// protobuf returns the entry's envelope encoding, shared by every GET and watch
// event that asks for it.
func (e *entry) protobuf() ([]byte, error) {
	if e.pb == nil {
		return nil, errNoProtobuf
	}
	return e.pb, nil
}

func writeProtobuf(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", protobufType)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// encodeProtobuf encodes an object that carries its apiVersion and kind, into a
// slice of its own that the serializer sizes (the cache keeps thousands).
func encodeProtobuf(obj runtime.Object) ([]byte, error) {
	var w keepWriter
	err := pbSerializer.EncodeWithAllocator(obj, &w, freshAllocator{})
	return w.b, err
}

// freshAllocator gives the serializer a new buffer for every encoding, which
// keepWriter then keeps instead of copying.
type freshAllocator struct{}

func (freshAllocator) Allocate(n uint64) []byte { return make([]byte, n) }

type keepWriter struct{ b []byte }

func (k *keepWriter) Write(p []byte) (int, error) {
	if k.b == nil {
		k.b = p
	} else {
		k.b = append(k.b, p...)
	}
	return len(p), nil
}

// listProtobuf encodes a list of entries: from their cached encodings when the
// kind allows it (splicedList), by building and encoding the typed list
// otherwise.
func listProtobuf(res *Resource, lm metav1.ListMeta, items []*entry) ([]byte, error) {
	if out, ok := splicedList(res, lm, items); ok {
		return out, nil
	}
	list := res.NewList()
	objs := make([]runtime.Object, len(items))
	for i, e := range items {
		obj, err := e.object()
		if err != nil {
			return nil, err
		}
		objs[i] = obj
	}
	if err := meta.SetList(list, objs); err != nil {
		return nil, err
	}
	la, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	la.SetResourceVersion(lm.ResourceVersion)
	la.SetContinue(lm.Continue)
	la.SetRemainingItemCount(lm.RemainingItemCount)
	list.GetObjectKind().SetGroupVersionKind(listGVK(res))
	return encodeProtobuf(list)
}

// splicedList builds a list's protobuf envelope out of its items' cached
// envelopes, without decoding one: a list message is its ListMeta as field 1
// and each item as field 2, and an item's bytes are the Raw of its envelope.
// It declines (false) for a list kind not laid out that way, or an item with no
// protobuf encoding.
func splicedList(res *Resource, lm metav1.ListMeta, items []*entry) ([]byte, bool) {
	if !conventionalList(res.NewList()) {
		return nil, false
	}
	meta, err := lm.Marshal()
	if err != nil {
		return nil, false
	}
	raws := make([][]byte, len(items))
	size := 1 + varintLen(len(meta)) + len(meta)
	for i, e := range items {
		raw, ok := envelopeRaw(e.pb)
		if !ok {
			return nil, false
		}
		raws[i] = raw
		size += 1 + varintLen(len(raw)) + len(raw)
	}
	body := make([]byte, 0, size)
	body = append(body, 0x0a) // field 1, length-delimited
	body = binary.AppendUvarint(body, uint64(len(meta)))
	body = append(body, meta...)
	for _, raw := range raws {
		body = append(body, 0x12) // field 2, length-delimited
		body = binary.AppendUvarint(body, uint64(len(raw)))
		body = append(body, raw...)
	}
	gvk := listGVK(res)
	unk := runtime.Unknown{
		TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
		Raw:      body,
	}
	data, err := unk.Marshal()
	if err != nil {
		return nil, false
	}
	return append(append(make([]byte, 0, len(protobufMagic)+len(data)), protobufMagic...), data...), true
}

func listGVK(res *Resource) schema.GroupVersionKind {
	return res.GVK.GroupVersion().WithKind(res.GVK.Kind + "List")
}

// protobufMagic starts every protobuf envelope.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// envelopeRaw returns the object bytes inside a protobuf envelope (the Raw of
// its runtime.Unknown, field 2).
func envelopeRaw(pb []byte) ([]byte, bool) {
	if !bytes.HasPrefix(pb, protobufMagic) {
		return nil, false
	}
	b := pb[len(protobufMagic):]
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag&7 != 2 {
			return nil, false
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, false
		}
		field := b[n : n+int(l)]
		if tag>>3 == 2 {
			return field, true
		}
		b = b[n+int(l):]
	}
	return nil, false
}

// conventionalList reports whether a list type is ListMeta as protobuf field 1
// and Items as the repeated field 2, as every built-in list is.
func conventionalList(list runtime.Object) bool {
	t := reflect.TypeOf(list)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return false
	}
	lm, ok1 := t.Elem().FieldByName("ListMeta")
	items, ok2 := t.Elem().FieldByName("Items")
	return ok1 && ok2 && strings.HasPrefix(lm.Tag.Get("protobuf"), "bytes,1,") &&
		strings.HasPrefix(items.Tag.Get("protobuf"), "bytes,2,rep,")
}

func varintLen(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n))
}

// watchFrame is one protobuf watch event: a length-delimited raw WatchEvent
// whose object is the full envelope encoding.
func watchFrame(typ string, obj []byte) []byte {
	ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: obj}}
	data, err := ev.Marshal()
	if err != nil {
		return nil
	}
	out := make([]byte, 4+len(data))
	binary.BigEndian.PutUint32(out, uint32(len(data)))
	copy(out[4:], data)
	return out
}

// bookmarkProtobuf is a BOOKMARK's object: the kind with only a resourceVersion.
func bookmarkProtobuf(res *Resource, rev int64, initialEnd bool) []byte {
	obj := res.New()
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		acc.SetAnnotations(map[string]string{"k8s.io/initial-events-end": "true"})
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GVK)
	data, _ := encodeProtobuf(obj)
	return data
}

// respond writes a write's result: the cached entry's protobuf when the write
// ran under wantProtobuf and the entry had one (the bytes carry protobuf's
// magic prefix, which JSON never starts with), JSON otherwise, which every
// client also accepts.
func respond(w http.ResponseWriter, code int, raw []byte) {
	if bytes.HasPrefix(raw, protobufMagic) {
		writeProtobuf(w, code, raw)
		return
	}
	writeJSON(w, code, raw)
}

// answerKey is the context key of what a write's caller does with the cached
// entry the write answers with (see encodedEntry).
type answerKey struct{}

const (
	answerProtobuf = iota + 1 // the client asked for protobuf
	answerNone                // nobody reads it
)

// wantProtobuf marks a write whose answer goes to respond for a client that asked
// for protobuf: the write may then answer with the cached entry's protobuf,
// neither deriving its JSON nor making the client decode JSON.
func wantProtobuf(r *http.Request) context.Context {
	if negotiate(r) != outputProtobuf {
		return r.Context()
	}
	return context.WithValue(r.Context(), answerKey{}, answerProtobuf)
}

// noAnswer marks a write whose caller discards the object it answers with (a
// binding, a scale): the write then does not derive the entry's JSON.
func noAnswer(ctx context.Context) context.Context {
	return context.WithValue(ctx, answerKey{}, answerNone)
}

// encodedEntry is a cached entry as a write answers with it: its protobuf or no
// bytes at all when the context says so (wantProtobuf, noAnswer), its JSON
// otherwise.
func encodedEntry(ctx context.Context, e *entry) []byte {
	switch ctx.Value(answerKey{}) {
	case answerProtobuf:
		if e.pb != nil {
			return e.pb
		}
	case answerNone:
		return nil
	}
	return e.json()
}
