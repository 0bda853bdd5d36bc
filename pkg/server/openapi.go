package server

import (
	"net/http"
	"sync"

	"github.com/skiffhq/skiff/pkg/api/openapi"
	"github.com/skiffhq/skiff/pkg/apiserver"
)

// lazyOpenAPI builds the OpenAPI documents on the first request: most clients
// never ask, and building costs ~20 MB of short-lived allocations that an idle
// server should not carry.
type lazyOpenAPI struct {
	reg     *apiserver.Registry
	version string
	once    sync.Once
	h       http.Handler
	err     error
}

func (l *lazyOpenAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.once.Do(func() {
		var kinds []openapi.Kind
		for _, res := range l.reg.Resources() {
			k := openapi.Kind{
				GVK: res.GVK, Resource: res.Name, Namespaced: res.Namespaced,
				Object: res.New(), Verbs: res.Verbs(),
			}
			if res.NewList != nil { // review kinds have no list
				k.List = res.NewList()
			}
			if res.Status {
				k.Subresources = append(k.Subresources, "status")
			}
			for _, s := range res.Subresources {
				k.Subresources = append(k.Subresources, s.Name)
			}
			kinds = append(kinds, k)
		}
		docs, err := openapi.Build(kinds, l.version)
		if err != nil {
			l.err = err
			return
		}
		l.h = docs.Handler()
	})
	if l.err != nil {
		http.Error(w, "building OpenAPI documents: "+l.err.Error(), http.StatusInternalServerError)
		return
	}
	l.h.ServeHTTP(w, r)
}
