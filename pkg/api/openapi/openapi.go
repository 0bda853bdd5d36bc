package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind describes one served resource for the OpenAPI documents.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string // plural, e.g. "pods"
	Namespaced bool
	Object     any // zero value of the Go type, e.g. &corev1.Pod{}
	List       any // e.g. &corev1.PodList{}; needed for the list and deletecollection verbs
	// Subresources, e.g. "status", "scale", "binding", "eviction", "log", "exec",
	// "portforward", "attach", "proxy", "ephemeralcontainers", "resize",
	// "finalize", "token", "approval". Build rejects any other name.
	Subresources []string
	// Verbs: get list watch create update patch delete deletecollection. Empty
	// means all of them.
	Verbs []string
}

// Documents are the generated OpenAPI documents, ready to serve.
type Documents struct {
	v2JSON, v2Proto       []byte
	v2JSONTag, v2ProtoTag string // ETag values, quoted
	v3Index               []byte
	v3IndexTag            string
	v3                    map[string]v3Document // by group-version path, e.g. "api/v1"
	built                 time.Time
}

type v3Document struct {
	body []byte
	hash string
}

// Build generates the documents once; serving is then a byte copy. version is
// the server version reported in info.version.
func Build(kinds []Kind, version string) (*Documents, error) {
	b := &builder{
		defs:   newDefinitions(),
		params: newCommonParams(),
		paths:  map[string]*pathItem{},
		gvs:    map[string]schema.GroupVersion{},
	}
	seen := map[string]bool{}
	for _, k := range kinds {
		key := groupVersionPath(k.GVK.Group, k.GVK.Version) + "/" + k.Resource
		if seen[key] {
			return nil, fmt.Errorf("resource %s is listed twice", key)
		}
		seen[key] = true
		if err := b.addKind(k); err != nil {
			return nil, err
		}
	}
	metaNames := b.addMetaTypes()
	for _, def := range b.defs.byName {
		slices.SortFunc(def.gvks, func(a, b gvk) int {
			return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
		})
	}

	inf := info{Title: "Kubernetes", Version: version}
	d := &Documents{v3: map[string]v3Document{}, built: time.Now()}
	// A path whose verbs were all left out has nothing to describe.
	maps.DeleteFunc(b.paths, func(_ string, it *pathItem) bool { return len(it.ops) == 0 })
	paths := slices.SortedFunc(maps.Values(b.paths), func(a, b *pathItem) int { return strings.Compare(a.path, b.path) })
	defNames := slices.Sorted(maps.Keys(b.defs.byName))

	if err := d.buildV2(inf, paths, b.defs.byName, defNames); err != nil {
		return nil, err
	}
	if err := d.buildV3(inf, paths, b.defs.byName, metaNames); err != nil {
		return nil, err
	}
	return d, nil
}

// addMetaTypes defines the meta types every document carries, and returns
// their names.
func (b *builder) addMetaTypes() []string {
	var names []string
	for _, t := range metaTypes {
		names = append(names, b.meta(t).ref)
	}
	b.addGVK(b.meta(statusType).ref, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	b.addGVK(b.meta(apiResourceListType).ref, schema.GroupVersionKind{Version: "v1", Kind: "APIResourceList"})
	// DeleteOptions and WatchEvent are registered in every group-version.
	gvs := slices.Collect(maps.Values(b.gvs))
	gvs = append(gvs, schema.GroupVersion{Version: "v1"})
	for _, gv := range gvs {
		b.addGVK(b.meta(deleteOptionsType).ref, gv.WithKind("DeleteOptions"))
		b.addGVK(b.meta(watchEventType).ref, gv.WithKind("WatchEvent"))
	}
	return names
}

func (d *Documents) buildV2(inf info, paths []*pathItem, defs map[string]*node, defNames []string) error {
	rendered, err := renderDefs(defs, v2)
	if err != nil {
		return err
	}
	jsonPaths := make(map[string]*v2PathItem, len(paths))
	for _, it := range paths {
		jsonPaths[it.path] = it.toV2()
	}
	var buf bytes.Buffer
	buf.WriteString(`{"definitions":`)
	if err := rendered.writeTo(&buf, defNames); err != nil {
		return err
	}
	if err := writeFields(&buf, "info", inf, "paths", jsonPaths, "swagger", "2.0"); err != nil {
		return err
	}
	d.v2JSON = buf.Bytes()

	doc, err := buildV2Proto(inf, paths, defs, defNames)
	if err != nil {
		return err
	}
	if d.v2Proto, err = (proto.MarshalOptions{Deterministic: true}).Marshal(doc); err != nil {
		return fmt.Errorf("marshal v2 protobuf: %w", err)
	}
	d.v2JSONTag, d.v2ProtoTag = etag(hash(d.v2JSON)), etag(hash(d.v2Proto))
	return nil
}

func (d *Documents) buildV3(inf info, paths []*pathItem, defs map[string]*node, metaNames []string) error {
	rendered, err := renderDefs(defs, v3)
	if err != nil {
		return err
	}
	byGV := map[string][]*pathItem{}
	for _, it := range paths {
		byGV[it.gvPath] = append(byGV[it.gvPath], it)
	}
	index := struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}{Paths: map[string]struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}{}}
	for gvPath, items := range byGV {
		jsonPaths := make(map[string]*v3PathItem, len(items))
		var roots []string
		for _, it := range items {
			jsonPaths[it.path] = it.toV3()
			for _, op := range it.ops {
				op.body.refs(func(n string) { roots = append(roots, n) })
				for _, r := range op.responses {
					r.schema.refs(func(n string) { roots = append(roots, n) })
				}
			}
		}
		names := closure(defs, append(roots, metaNames...))
		var buf bytes.Buffer
		buf.WriteString(`{"components":{"schemas":`)
		if err := rendered.writeTo(&buf, names); err != nil {
			return err
		}
		buf.WriteByte('}')
		if err := writeFields(&buf, "info", inf, "openapi", "3.0.0", "paths", jsonPaths); err != nil {
			return err
		}
		doc := v3Document{body: buf.Bytes(), hash: hash(buf.Bytes())}
		d.v3[gvPath] = doc
		index.Paths[gvPath] = struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		}{"/openapi/v3/" + gvPath + "?hash=" + doc.hash}
	}
	if d.v3Index, err = marshal(index); err != nil {
		return err
	}
	d.v3IndexTag = etag(hash(d.v3Index))
	return nil
}

// closure returns the sorted names of roots and of every definition they refer
// to, transitively.
func closure(defs map[string]*node, roots []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		defs[name].refs(visit)
	}
	for _, r := range roots {
		visit(r)
	}
	return slices.Sorted(maps.Keys(seen))
}

// writeFields appends ,"k1":v1,"k2":v2... and the closing brace of an object
// whose first member is already written.
func writeFields(buf *bytes.Buffer, kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		v, err := marshal(kv[i+1])
		if err != nil {
			return fmt.Errorf("field %v: %w", kv[i], err)
		}
		fmt.Fprintf(buf, `,%q:`, kv[i])
		buf.Write(v)
	}
	buf.WriteByte('}')
	return nil
}

// hash names a document's content for ETags and the v3 ?hash= parameter.
func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func etag(h string) string { return `"` + h + `"` }

// V2JSON is GET /openapi/v2 as application/json.
func (d *Documents) V2JSON() []byte { return d.v2JSON }

// V2Proto is GET /openapi/v2 as
// application/com.github.proto-openapi.spec.v2@v1.0+protobuf: a gnostic
// openapi_v2.Document, which is what kubectl asks for and parses.
func (d *Documents) V2Proto() []byte { return d.v2Proto }

// V3Index is GET /openapi/v3: the group-version documents and their URLs,
// which carry the document's hash.
func (d *Documents) V3Index() []byte { return d.v3Index }

// V3 returns the document for a group-version path like "api/v1" or
// "apis/coordination.k8s.io/v1", and its hash (the ETag, unquoted).
func (d *Documents) V3(path string) (doc []byte, hash string, ok bool) {
	v, ok := d.v3[strings.Trim(path, "/")]
	return v.body, v.hash, ok
}
