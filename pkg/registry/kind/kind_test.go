package kind

import (
	"testing"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

func TestGroupResources(t *testing.T) {
	named := func(name string) Maker {
		return func(o Options) *apiserver.Resource { return &apiserver.Resource{Name: name} }
	}
	var g Group
	g.Add(named("widgets"))
	g.Add(named("gadgets"))
	first, second := g.Resources(Options{}), g.Resources(Options{})
	if len(first) != 2 || first[0].Name != "gadgets" || first[1].Name != "widgets" {
		t.Fatalf("resources %v, want gadgets then widgets", first)
	}
	if first[0] == second[0] {
		t.Error("two registries share a kind's definition")
	}

	g.Add(named("gadgets"))
	defer func() {
		if recover() == nil {
			t.Error("a kind declared twice did not panic")
		}
	}()
	g.Resources(Options{})
}

func TestOptionsWithDefaults(t *testing.T) {
	o := Options{}.WithDefaults()
	if o.ServiceCIDR.String() != "10.43.0.0/16" || o.NodePortMin != 30000 || o.NodePortMax != 32767 ||
		o.NotReadyTolerationSeconds != 300 || o.UnreachableTolerationSeconds != 300 {
		t.Errorf("defaults: %+v", o)
	}
	if set := (Options{NodePortMin: 31000, NodePortMax: 31999}).WithDefaults(); set.NodePortMin != 31000 || set.NodePortMax != 31999 {
		t.Errorf("set ports replaced: %+v", set)
	}
}
