package openapi

import (
	"reflect"
	"strings"
)

// definitionName is the upstream-style name of a Go type's schema: the package
// path with its host reversed, then the type name, so k8s.io/api/core/v1.Pod
// becomes io.k8s.api.core.v1.Pod. Clients match these names literally.
func definitionName(t reflect.Type) string {
	host, rest, _ := strings.Cut(t.PkgPath(), "/")
	labels := strings.Split(host, ".")
	var b strings.Builder
	for i := len(labels) - 1; i >= 0; i-- {
		b.WriteString(labels[i])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	if rest != "" {
		b.WriteByte('.')
		b.WriteString(strings.ReplaceAll(rest, "/", "."))
	}
	b.WriteByte('.')
	b.WriteString(t.Name())
	return b.String()
}

// groupIdent is the group as it appears in operation IDs and tags: "" is "core",
// the ".k8s.io" suffix is dropped and the rest is camel-cased, so
// "rbac.authorization.k8s.io" becomes "rbacAuthorization".
func groupIdent(group string) string {
	if group == "" {
		return "core"
	}
	words := strings.FieldsFunc(strings.TrimSuffix(group, ".k8s.io"), func(r rune) bool {
		return r == '.' || r == '-'
	})
	for i := 1; i < len(words); i++ {
		words[i] = upperFirst(words[i])
	}
	return strings.Join(words, "")
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// groupVersionPath is the URL prefix of a group-version without the leading
// slash, which is also its key in the /openapi/v3 index: "api/v1" or
// "apis/apps/v1".
func groupVersionPath(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}
