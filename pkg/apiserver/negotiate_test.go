package apiserver

import "testing"

func TestNegotiateAccept(t *testing.T) {
	const kubectlTable = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	for _, c := range []struct {
		accept string
		tables bool
		want   outputKind
		ok     bool
	}{
		{"", true, outputObject, true},
		{"application/json", true, outputObject, true},
		{"application/json, */*", true, outputObject, true},
		{"application/*", true, outputObject, true},
		{"*/*;q=0.8", true, outputObject, true},
		{"application/vnd.kubernetes.protobuf, application/json", true, outputProtobuf, true},
		{"application/vnd.kubernetes.protobuf;stream=watch", true, outputProtobuf, true},
		{"application/yaml", true, outputYAML, true},
		{kubectlTable, true, outputTable, true},
		{kubectlTable, false, outputObject, true}, // kubectl falls back to the object
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", true, outputPartialMetadata, true},
		// What upstream refuses with 406.
		{"application/json;as=Table;v=v1;g=meta.k8s.io", false, outputObject, false},
		{"application/json;as=Table;v=v2;g=meta.k8s.io", true, outputObject, false},
		{"application/json;as=Pod;v=v1;g=", true, outputObject, false},
		{"text/html", true, outputObject, false},
		{"application/cbor", true, outputObject, false},
		{"application/json;stream=sideways", true, outputObject, false},
		{"application/json;q=0", true, outputObject, false},
	} {
		got, ok := negotiateAccept(c.accept, c.tables)
		if got != c.want || ok != c.ok {
			t.Errorf("Accept %q (tables %v): %v, %v; want %v, %v", c.accept, c.tables, got, ok, c.want, c.ok)
		}
	}
}
