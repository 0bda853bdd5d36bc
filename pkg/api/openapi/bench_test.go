package openapi

import (
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
)

// BenchmarkBuild measures what server start pays for testKinds (19 kinds in 5
// group-versions).
func BenchmarkBuild(b *testing.B) {
	kinds := testKinds()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(kinds, "v1.33.0"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseV2JSON is the alternative Build avoids: gnostic parsing the
// JSON document into the protobuf form, as kube-apiserver does.
func BenchmarkParseV2JSON(b *testing.B) {
	d := testDocs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openapi_v2.ParseDocument(d.V2JSON()); err != nil {
			b.Fatal(err)
		}
	}
}
