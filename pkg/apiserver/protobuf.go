package apiserver

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// Protobuf is what client-go asks for when configured for it (our in-process
// components are): several times cheaper to decode than JSON, which dominates
// an informer's CPU during a storm.
const protobufType = "application/vnd.kubernetes.protobuf"

var pbSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// protobuf returns the entry's envelope encoding, computed on first use and then
// shared by every GET and watch event that asks for it.
func (e *entry) protobuf() ([]byte, error) {
	e.pbOnce.Do(func() {
		var buf bytes.Buffer
		e.pbErr = pbSerializer.Encode(e.obj, &buf)
		e.pb = buf.Bytes()
	})
	return e.pb, e.pbErr
}

func writeProtobuf(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", protobufType)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// encodeProtobuf encodes an object that carries its apiVersion and kind.
func encodeProtobuf(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	err := pbSerializer.Encode(obj, &buf)
	return buf.Bytes(), err
}

// listProtobuf builds the typed list (items are shallow copies of the cached
// objects) and encodes it.
func listProtobuf(res *Resource, lm metav1.ListMeta, items []*entry) ([]byte, error) {
	list := res.NewList()
	objs := make([]runtime.Object, len(items))
	for i, e := range items {
		objs[i] = e.obj
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
	list.GetObjectKind().SetGroupVersionKind(res.GVK.GroupVersion().WithKind(res.GVK.Kind + "List"))
	return encodeProtobuf(list)
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

// respond writes a write's result (JSON bytes from the cache or freshly encoded)
// in the encoding the client asked for. A protobuf client gets the cached entry's
// protobuf when the bytes are that entry's; otherwise JSON, which every client
// also accepts.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, code int, res *Resource, namespace, name string, raw []byte) {
	if negotiate(r) == outputProtobuf && len(raw) > 0 {
		if e, _ := s.cache.get(res, res.key(namespace, name)); e != nil && len(e.raw) > 0 && &e.raw[0] == &raw[0] {
			if pb, err := e.protobuf(); err == nil {
				writeProtobuf(w, code, pb)
				return
			}
		}
	}
	writeJSON(w, code, raw)
}
