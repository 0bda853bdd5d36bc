package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var fuzzPod = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"a":"b"}},` +
	`"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80,"protocol":"TCP"}]}]}}`)

// FuzzDecode: no request body makes decoding panic, in any media type or mode.
func FuzzDecode(f *testing.F) {
	f.Add(fuzzPod, uint8(0))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"), uint8(1))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","name":"y"}}`), uint8(2))
	f.Add([]byte(`{"kind":"Pod","apiVersion":"v2"}`), uint8(0))
	f.Add([]byte(`[`), uint8(0))
	types := []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	modes := []fieldValidation{validationStrict, validationWarn, validationIgnore}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		obj := &corev1.Pod{}
		_, _ = decodeInto(data, types[int(sel)%len(types)], corev1.SchemeGroupVersion.WithKind("Pod"), obj, modes[int(sel/3)%len(modes)])
	})
}
