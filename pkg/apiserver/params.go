package apiserver

import (
	"net/http"
	"net/url"

	"k8s.io/apimachinery/pkg/runtime"
)

// queryBool reads a boolean query parameter as upstream's parameter codec
// does: absent, "0" or "false" (in any case) is false; anything else, even
// "True", "yes" or an empty value, is true.
func queryBool(q url.Values, name string) bool {
	var b bool
	v := q[name]
	_ = runtime.Convert_Slice_string_To_bool(&v, &b, nil)
	return b
}

// queryValue is a query parameter's first value, without parsing a query
// that is not there (most GETs have none).
func queryValue(r *http.Request, name string) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get(name)
}
