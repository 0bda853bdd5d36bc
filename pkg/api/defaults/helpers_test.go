package defaults

import (
	"testing"

	"encoding/json"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// mustEqual fails with a diff when got is not semantically want (quantities
// compare by value, not by their cached string).
func mustEqual(t *testing.T, want, got any) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("defaulted object differs\nwant: %s\ngot:  %s", w, g)
	}
}
