package patch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

var fuzzPod = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"a":"b"}},` +
	`"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80,"protocol":"TCP"}]}]}}`)

// fuzzDocs are the originals the fuzz test patches: a pod as the server encodes
// it, and one with what json-patch v4 treats specially (values it leaves
// unparsed, HTML characters, big numbers, nulls in arrays, duplicate keys).
var fuzzDocs = [][]byte{
	fuzzPod,
	[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"h":"<a&b>","u":"\u00e9\u2028","n":null}},` +
		`"spec":{"containers":[{"name":"c","image":"i","args":["a",null,"<b>"],"env":[{"name":"A","value":"1"}]}],` +
		`"nodeSelector":{"k":"v","k":"w"},"priority":12345678901234567890,"terminationGracePeriodSeconds":1.50}}`),
}

var patchTypes = []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}

// fuzzSeeds are patches for each type (by index in patchTypes) that reach
// v4's corners: nulls, negative indices, root replacement and tests, escaped
// tokens, copies, and strategic merge directives.
var fuzzSeeds = map[int][]string{
	0: {
		`[{"op":"replace","path":"/metadata/labels/a","value":"c"}]`,
		`[{"op":"replace","path":""}]`,
		`[{"op":"replace","path":"","value":null}]`,
		`[{"op":"replace","path":"","value":[1]}]`,
		`[{"op":"replace","path":"","value":"s"}]`,
		`[{"op":"test","path":""}]`,
		`[{"op":"test","path":"","value":{}}]`,
		`[{"op":"add","path":"/metadata/x","value":null},{"op":"copy","from":"/metadata/x","path":"/metadata/y"},{"op":"test","path":"/metadata/y","value":{}}]`,
		`[{"op":"add","path":"/metadata/x","value":null},{"op":"copy","from":"/metadata/x","path":"/metadata/y"},{"op":"add","path":"/metadata/y/z","value":1}]`,
		`[{"op":"add","path":"/spec/containers/-1","value":{"name":"d"}},{"op":"remove","path":"/spec/containers/-2"}]`,
		`[{"op":"add","path":"/spec/containers/-","value":{"name":"d"}},{"op":"move","from":"/spec/containers/0","path":"/spec/containers/1"}]`,
		`[{"op":"test","path":"/spec/containers/0/args","value":["a",null,"<b>"]}]`,
		`[{"op":"test","path":"/spec/priority","value":12345678901234567890}]`,
		`[{"op":"test","path":"/metadata/annotations/n","value":null},{"op":"test","path":"/metadata/nope"}]`,
		`[{"op":"add","path":"/metadata/annotations/a~1b~0c","value":"<x>"},{"op":"copy","from":"/metadata/annotations","path":"/metadata/labels"}]`,
		`[{"op":"add","path":"/metadata/labels","value":{"k":"1","k":"2"}}]`,
		`[{"op":"add","path":"/metadata/labels/x","value": [ 1 , {"b":2, "a":1} ] }]`,
		`[{"op":"remove","path":"/spec/containers/x"},{"op":"remove","path":"/spec/containers/9"}]`,
		`[{"op":"copy","from":"/spec","path":"/spec/containers/0/s"},{"op":"test","path":"/spec/containers/0/s/containers/0/name","value":"c"}]`,
		`[{"op":"move","from":"/metadata","path":"/metadata/x"}]`,
		`[{"op":"frobnicate"},{"op":1}]`,
		`[null]`,
		`[1]`,
		`null`,
		`{}`,
		`[{"op":"add","path":"/spec/nodeSelector/k","value":"x"}]`,
	},
	1: {
		`{"metadata":{"labels":{"a":null,"x":"y"}}}`,
		`{"spec":{"containers":null}}`,
		`[1,null]`,
		`null`,
		`"s"`,
		`{"metadata":{"annotations":{"h":null,"new":"<&>"}}}`,
	},
	2: {
		`{"spec":{"containers":[{"name":"c","image":"j"}]}}`,
		`{"spec":{"containers":[{"$patch":"delete","name":"c"}]}}`,
		`{"$retainKeys":["x"],"spec":{"$setElementOrder/containers":[{"name":"c"}]}}`,
		`{"spec":{"$setElementOrder/containers":[{"name":"d"},{"name":"c"}],"containers":[{"name":"d","image":"x"}]}}`,
		`{"metadata":{"finalizers":["a","b"],"$deleteFromPrimitiveList/finalizers":["a"]}}`,
		`{"spec":{"containers":[{"name":{"x":1}}]}}`,
		`{"spec":{"containers":[{"$patch":"replace"},{"name":"z"}]}}`,
		`{"spec":{"containers":[{"$patch":"merge"}]}}`,
		`{"spec":{"$patch":"replace","containers":[]}}`,
		`{"spec":{"priority":1e400}}`,
		`{"spec":{"priority":12345678901234567890}}`,
		`{"spec":{"containers":[[1]]}}`,
		`null`,
		``,
	},
}

// FuzzApply: for every patch, Apply answers as Skiff's applyPatch did (the
// same JSON, or the same status code, reason and message) unless a bound this
// package adds refused it, and never panics. For JSON patches the engine is
// also compared with json-patch v4 itself, error text included (the 422 that
// Apply answers keeps none).
func FuzzApply(f *testing.F) {
	for sel, seeds := range fuzzSeeds {
		for _, s := range seeds {
			for d := range fuzzDocs {
				f.Add([]byte(s), uint8(sel+len(patchTypes)*d))
			}
		}
	}
	f.Fuzz(func(t *testing.T, patch []byte, sel uint8) {
		pt := patchTypes[int(sel)%len(patchTypes)]
		doc := fuzzDocs[int(sel)/len(patchTypes)%len(fuzzDocs)]
		got, gotErr := Apply(context.Background(), pt, doc, patch, &corev1.Pod{})
		var tooLarge *apierrors.StatusError
		if errors.As(gotErr, &tooLarge) && apierrors.IsRequestEntityTooLargeError(gotErr) {
			return
		}
		want, wantErr := legacyApply(pt, doc, patch, &corev1.Pod{})
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%s %s: got error %v, applyPatch's %v", pt, patch, gotErr, wantErr)
		}
		if gotErr != nil {
			g, w := status(gotErr), status(wantErr)
			if g != w {
				t.Fatalf("%s %s: got %s, applyPatch's %s", pt, patch, g, w)
			}
			return
		}
		if !bytes.Equal(got, want) && !legacyCanAnswer(pt, doc, patch, got) {
			t.Fatalf("%s %s:\ngot            %s\napplyPatch's   %s", pt, patch, got, want)
		}
	})
}

// legacyCanAnswer reports whether applyPatch answers got in some of a few
// more tries. A strategic merge patch's result can depend on the order Go
// iterates the patch's keys: one that sets a list where there was none and
// deletes from it ($deleteFromPrimitiveList) deletes only if the list is set
// first.
func legacyCanAnswer(pt types.PatchType, doc, patch, got []byte) bool {
	if pt != types.StrategicMergePatchType {
		return false
	}
	for range 50 {
		if want, err := legacyApply(pt, doc, patch, &corev1.Pod{}); err == nil && bytes.Equal(got, want) {
			return true
		}
	}
	return false
}

func status(err error) string {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return "not a StatusError: " + err.Error()
	}
	s := se.Status()
	return fmt.Sprintf("%d %s %q", s.Code, s.Reason, s.Message)
}

func catch(f func() ([]byte, error)) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}
