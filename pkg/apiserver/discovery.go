package apiserver

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// discoveryDocs are computed once: the resources never change while serving.
type discoveryDocs struct {
	groups        []byte            // /apis
	byGV          map[string][]byte // "v1" -> /api/v1, "g/v" -> /apis/g/v
	groupVersions []string          // non-core, sorted
	groupDocs     map[string][]byte // "g" -> /apis/g
}

func buildDiscovery(reg *Registry) *discoveryDocs {
	d := &discoveryDocs{byGV: map[string][]byte{}, groupDocs: map[string][]byte{}}
	lists := map[string]*metav1.APIResourceList{}
	var order []string
	for _, r := range reg.Resources() {
		gv := r.GroupVersion()
		l := lists[gv]
		if l == nil {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
			lists[gv] = l
			order = append(order, gv)
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.Name, SingularName: r.Singular, Namespaced: r.Namespaced, Kind: r.GVK.Kind,
			Verbs: r.Verbs(), ShortNames: r.ShortNames, Categories: r.Categories,
		})
		if r.Status {
			l.APIResources = append(l.APIResources, metav1.APIResource{
				Name: r.Name + "/status", Namespaced: r.Namespaced, Kind: r.GVK.Kind,
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
		for _, sub := range r.Subresources {
			ar := metav1.APIResource{Name: r.Name + "/" + sub.Name, Namespaced: r.Namespaced, Kind: sub.Kind.Kind, Verbs: sub.Verbs}
			if sub.Kind.GroupVersion() != r.GVK.GroupVersion() {
				ar.Group, ar.Version = sub.Kind.Group, sub.Kind.Version
			}
			l.APIResources = append(l.APIResources, ar)
		}
	}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range order {
		l := lists[gv]
		sort.SliceStable(l.APIResources, func(i, j int) bool { return l.APIResources[i].Name < l.APIResources[j].Name })
		d.byGV[gv] = mustJSON(l)
		if gv == "v1" {
			continue
		}
		g, _ := schema.ParseGroupVersion(gv)
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: g.Version}
		group := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.Group,
			Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd}
		groups.Groups = append(groups.Groups, group)
		d.groupDocs[g.Group] = mustJSON(group)
		d.groupVersions = append(d.groupVersions, gv)
	}
	for i := range groups.Groups {
		groups.Groups[i].TypeMeta = metav1.TypeMeta{}
	}
	d.groups = mustJSON(groups)
	return d
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// serveDiscovery answers /api and /apis. Plain JSON only: clients that ask for
// aggregated discovery fall back to per-group documents when they get this.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") == "/api" {
		host := r.Host
		if _, _, err := net.SplitHostPort(host); err != nil && r.TLS != nil {
			host = net.JoinHostPort(host, "443")
		}
		writeObject(w, http.StatusOK, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: host},
			},
		})
		return
	}
	writeJSON(w, http.StatusOK, s.discovery.groups)
}

// serveGroupDiscovery answers /api/v1, /apis/G and /apis/G/V: parts are the
// path's after /api or /apis.
func (s *Server) serveGroupDiscovery(w http.ResponseWriter, parts []string, core bool) {
	var doc []byte
	var ok bool
	switch {
	case core && len(parts) == 1:
		doc, ok = s.discovery.byGV[parts[0]]
	case !core && len(parts) == 1:
		doc, ok = s.discovery.groupDocs[parts[0]]
	case !core && len(parts) == 2:
		doc, ok = s.discovery.byGV[parts[0]+"/"+parts[1]]
	}
	if !ok {
		writeError(w, notFound())
		return
	}
	writeJSON(w, http.StatusOK, doc)
}
