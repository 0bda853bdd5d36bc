package apiserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is everything the generic REST handler needs to serve one kind.
// One value per kind; the handler never switches on kinds.
type Resource struct {
	GVK        schema.GroupVersionKind
	Name       string // plural, lower case: "pods"
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string

	New     func() runtime.Object
	NewList func() runtime.Object

	// Status is true when the kind has a status subresource: writes to the main
	// resource keep the stored status, writes to /status keep everything else.
	Status bool
	// KeepStatusOnCreate keeps a client-supplied status on create (nodes, events).
	KeepStatusOnCreate bool
	// AllowCreateOnUpdate lets PUT create a missing object (endpoints, leases).
	AllowCreateOnUpdate bool
	// OrphanByDefault orphans an object's dependents when a delete names no
	// propagation policy (upstream's batch/v1 Jobs, for compatibility);
	// other kinds' dependents are deleted in the background.
	OrphanByDefault bool
	// RequireResourceVersion refuses an update that does not name the
	// resourceVersion it read (upstream's AllowUnconditionalUpdate false);
	// other kinds take such an update as one of whatever is stored.
	RequireResourceVersion bool

	// PrepareForCreate sets server-owned fields before defaulting (e.g. pod phase).
	PrepareForCreate func(obj runtime.Object)
	// Default applies upstream defaults; it runs on create and on every update.
	Default func(obj runtime.Object)
	// Validate checks a new object; ValidateUpdate checks a change (old is stored).
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// PrepareForStatusUpdate runs on writes to /status after the spec was
	// kept from storage: it keeps what else a status write may not change
	// (a Deployment's labels, as upstream).
	PrepareForStatusUpdate func(obj, old runtime.Object)
	// ValidateStatusUpdate checks a write to /status; nil means ValidateUpdate.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// AdmitStatusUpdate is the kind's validating admission of writes to
	// /status, where upstream runs it: after validation, on dry runs too.
	AdmitStatusUpdate func(ctx context.Context, v View, obj, old runtime.Object) error
	// PrepareForUpdate runs on writes to the main resource before defaulting: it
	// carries over what clients may omit (allocated IPs) or may not change.
	PrepareForUpdate func(ctx context.Context, v View, obj, old runtime.Object) error
	// Admit is the kind's mutating admission on create, where upstream runs
	// it: after defaulting, before the name is generated from generateName
	// (an error names the object by what it has then), before validation,
	// and on dry runs too.
	Admit func(ctx context.Context, v View, obj runtime.Object) error
	// AdmitUpdate is Admit for writes to the main resource: after defaulting,
	// before the generation moves and validation.
	AdmitUpdate func(ctx context.Context, v View, obj, old runtime.Object) error
	// BeforeCreate runs after validation, inside the create path (allocators).
	BeforeCreate func(ctx context.Context, v View, obj runtime.Object) error
	// Allocates serializes this kind's creates and updates, so that allocators in
	// BeforeCreate/PrepareForUpdate see every earlier allocation.
	Allocates bool

	// SpecChanged reports whether an update changes the desired state, so that
	// metadata.generation must move. Nil means the kind does not track generation.
	SpecChanged func(obj, old runtime.Object) bool

	// Fields returns the kind's selectable fields beyond metadata.name/namespace.
	Fields func(obj runtime.Object) fields.Set

	// Columns and Cells render server-side Tables.
	Columns []metav1.TableColumnDefinition
	Cells   func(obj runtime.Object, now time.Time) []interface{}

	// Graceful reports the grace period an object gets on delete when the client
	// gave none, and whether delete is graceful at all (pods on a node).
	Graceful func(obj runtime.Object, requested *int64) (seconds int64, graceful bool)

	// MarkDeleting runs when a delete must wait (finalizers, grace): namespaces
	// move to Terminating.
	MarkDeleting func(obj runtime.Object)

	// Scale reads and writes the replica count for the scale subresource.
	Scale *ScaleAccess

	// Subresources served besides status (e.g. "binding", "scale", "log").
	Subresources []Subresource

	// Review, when set, makes the kind a question put to the server rather
	// than a stored object (access reviews): a create answers with what Review
	// returns, after Validate, and no other verb is served.
	Review func(ctx context.Context, a Authorizer, obj runtime.Object) (runtime.Object, error)

	// Of, when set, makes the kind another form of a stored kind, as upstream
	// serves events.k8s.io/v1 Events from the storage of core/v1 Events.
	Of   *ViewOf
	base *Resource // the kind Of names, found by NewRegistry
}

// ViewOf makes a kind a view of a stored kind. The view has no storage keys,
// cache or watch history of its own: its reads convert the stored kind's
// objects, its writes convert back before storing, and its defaulting,
// validation, tables and field selectors are all in its own terms. Reads and
// writes of the stored kind do no work for the view: a watch of the view
// converts, in its own goroutine, the stored kind's events it sends.
type ViewOf struct {
	// GroupVersion and Resource name the stored kind as Registry.Lookup does.
	GroupVersion, Resource string
	// ToView converts an object of the stored kind, FromView one of the
	// view's. Both return a new object and leave their argument alone.
	ToView, FromView func(obj runtime.Object) runtime.Object
}

// Verbs are the verbs discovery lists for the kind.
func (r *Resource) Verbs() []string {
	if r.Review != nil {
		return []string{"create"}
	}
	return allVerbs
}

// View reads the server's current objects (what allocators consult).
type View interface {
	// List returns every object of a resource ("v1", "services") in all namespaces.
	List(groupVersion, resource string) []runtime.Object
}

// Getter is a View that also reads one object by namespace and name, as the
// server's does from its cache.
type Getter interface {
	// Get returns the object, or nil when there is none.
	Get(groupVersion, resource, namespace, name string) runtime.Object
}

// GetObject reads one object from v: through Get when v is a Getter, else
// by looking through List.
func GetObject(v View, groupVersion, resource, namespace, name string) runtime.Object {
	if g, ok := v.(Getter); ok {
		return g.Get(groupVersion, resource, namespace, name)
	}
	for _, obj := range v.List(groupVersion, resource) {
		if m, ok := obj.(metav1.Object); ok && m.GetNamespace() == namespace && m.GetName() == name {
			return obj
		}
	}
	return nil
}

// ScaleAccess maps a kind to autoscaling/v1 Scale.
type ScaleAccess struct {
	// Get returns spec replicas, status replicas and the label selector string.
	Get func(obj runtime.Object) (spec, status int32, selector string)
	Set func(obj runtime.Object, replicas int32)
}

// Subresource describes one extra path below an object.
type Subresource struct {
	Name string
	Kind schema.GroupVersionKind // kind served, for discovery
	// Verbs for discovery.
	Verbs []string
	// Part, when set, serves get, update and patch of the whole object at
	// this path, through which a write changes only one part of the object
	// (pods/ephemeralcontainers, pods/resize).
	Part *Part
}

// Part is what a write through a part subresource may change: the rest of the
// object, metadata and status included, is kept from storage, as upstream's
// strategies for these subresources keep it.
type Part struct {
	// Take copies the part from obj, as the client sent it, into stored, a
	// copy of the stored object.
	Take func(stored, obj runtime.Object)
	// Validate checks the object that results against the stored one.
	Validate func(obj, old runtime.Object) field.ErrorList
	// Admit, when set, is the part's validating admission, where upstream
	// runs it: after Validate, on dry runs too.
	Admit func(ctx context.Context, v View, obj, old runtime.Object) error
}

// GroupVersion is "v1" for the core group and "group/version" otherwise.
func (r *Resource) GroupVersion() string { return r.GVK.GroupVersion().String() }

// stored is the kind whose storage and cache hold r's objects: r, or the
// kind r is a view of.
func (r *Resource) stored() *Resource {
	if r.base != nil {
		return r.base
	}
	return r
}

// keyPrefix is where a stored kind lives in storage; namespaced kinds add
// "ns/". A view's objects live at the keys of the kind it views (key).
func (r *Resource) keyPrefix() string {
	if r.GVK.Group == "" {
		return "/registry/" + r.Name + "/"
	}
	return "/registry/" + r.GVK.Group + "/" + r.Name + "/"
}

func (r *Resource) key(namespace, name string) string {
	r = r.stored()
	if r.Namespaced {
		return r.keyPrefix() + namespace + "/" + name
	}
	return r.keyPrefix() + name
}

func (r *Resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GVK.Group, Resource: r.Name}
}

func (r *Resource) hasSubresource(name string) bool {
	if name == "status" {
		return r.Status
	}
	return r.subresource(name) != nil
}

func (r *Resource) subresource(name string) *Subresource {
	for i := range r.Subresources {
		if r.Subresources[i].Name == name {
			return &r.Subresources[i]
		}
	}
	return nil
}

// Registry indexes resources by group/version and by plural name.
type Registry struct {
	list   []*Resource
	byPath map[string]*Resource // "v1/pods", "coordination.k8s.io/v1/leases"
	byKey  []*Resource          // the stored kinds, which own storage keys
	// byPrefix finds a stored kind by its key prefix ("/registry/pods/",
	// "/registry/apps/deployments/"): every write the cache applies looks
	// one up, in two map reads however many kinds are served.
	byPrefix map[string]*Resource
}

// NewRegistry indexes the given resources. A view of a kind that is not
// among them is a programming error and panics.
func NewRegistry(resources ...*Resource) *Registry {
	reg := &Registry{byPath: map[string]*Resource{}, byPrefix: map[string]*Resource{}}
	for _, r := range resources {
		reg.list = append(reg.list, r)
		reg.byPath[r.GroupVersion()+"/"+r.Name] = r
	}
	for _, r := range reg.list {
		if r.Of == nil {
			reg.byKey = append(reg.byKey, r)
			reg.byPrefix[r.keyPrefix()] = r
			continue
		}
		r.base = reg.Lookup(r.Of.GroupVersion, r.Of.Resource)
		if r.base == nil || r.base.Of != nil {
			panic(fmt.Sprintf("apiserver: %s/%s is a view of %s/%s, which is not a stored kind served here",
				r.GroupVersion(), r.Name, r.Of.GroupVersion, r.Of.Resource))
		}
	}
	return reg
}

// Lookup finds a resource by group/version ("v1" for core) and plural name.
func (reg *Registry) Lookup(groupVersion, name string) *Resource {
	return reg.byPath[groupVersion+"/"+name]
}

// Resources lists every resource in registration order.
func (reg *Registry) Resources() []*Resource { return reg.list }

// forKey finds the resource that owns a storage key: the kind of a group
// ("/registry/GROUP/RESOURCE/...") before a core kind ("/registry/RESOURCE/...").
func (reg *Registry) forKey(key string) *Resource {
	const root = "/registry/"
	rest, ok := strings.CutPrefix(key, root)
	if !ok {
		return nil
	}
	first := strings.IndexByte(rest, '/')
	if first < 0 {
		return nil
	}
	if second := strings.IndexByte(rest[first+1:], '/'); second >= 0 {
		if r := reg.byPrefix[key[:len(root)+first+1+second+1]]; r != nil {
			return r
		}
	}
	return reg.byPrefix[key[:len(root)+first+1]]
}
