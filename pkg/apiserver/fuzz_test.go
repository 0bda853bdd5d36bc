package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
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

// FuzzPatch: no patch document makes any of the three patch types panic, and a
// successful patch yields JSON that decodes.
func FuzzPatch(f *testing.F) {
	f.Add([]byte(`[{"op":"replace","path":"/metadata/labels/a","value":"c"}]`), uint8(0))
	f.Add([]byte(`{"metadata":{"labels":{"a":null,"x":"y"}}}`), uint8(1))
	f.Add([]byte(`{"spec":{"containers":[{"name":"c","image":"j"}]}}`), uint8(2))
	f.Add([]byte(`{"spec":{"containers":[{"$patch":"delete","name":"c"}]}}`), uint8(2))
	f.Add([]byte(`{"$retainKeys":["x"],"spec":{"$setElementOrder/containers":[{"name":"c"}]}}`), uint8(2))
	pts := []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}
	f.Fuzz(func(t *testing.T, patch []byte, sel uint8) {
		out, err := applyPatch(pts[int(sel)%len(pts)], fuzzPod, patch, &corev1.Pod{})
		if err != nil {
			return
		}
		_, _ = decodeInto(out, "application/json", corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{}, validationIgnore)
	})
}
