package openapi

import (
	"fmt"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// subresourceStyle says which operations a subresource has.
type subresourceStyle int

const (
	// styleParent: GET/PUT/PATCH of the parent kind (status, ephemeralcontainers).
	styleParent subresourceStyle = iota
	// styleObject: GET/PUT/PATCH of another kind (scale).
	styleObject
	// styleCreate: POST of another kind (binding, eviction, token).
	styleCreate
	// styleLog: GET returning text.
	styleLog
	// styleConnect: streaming or proxied requests described by an options kind.
	styleConnect
)

type subresourceSpec struct {
	style   subresourceStyle
	methods []string // for styleParent and styleConnect
	object  any      // the body and response for styleObject and styleCreate
	gvk     schema.GroupVersionKind
	// options gives the query parameters of styleLog and styleConnect, by the
	// parent kind's name; "" applies to any parent.
	options map[string]any
}

var (
	readWrite    = []string{http.MethodGet, http.MethodPut, http.MethodPatch}
	proxyMethods = []string{
		http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, http.MethodPut,
	}
	core = func(kind string) schema.GroupVersionKind { return corev1.SchemeGroupVersion.WithKind(kind) }
)

// subresources lists the subresources Build knows how to describe; an unknown
// name is an error rather than a guess.
var subresources = map[string]subresourceSpec{
	"status":              {style: styleParent, methods: readWrite},
	"ephemeralcontainers": {style: styleParent, methods: readWrite},
	"resize":              {style: styleParent, methods: readWrite},
	"approval":            {style: styleParent, methods: readWrite},
	"finalize":            {style: styleParent, methods: []string{http.MethodPut}},
	"scale": {
		style: styleObject, object: &autoscalingv1.Scale{},
		gvk: autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
	},
	"binding":  {style: styleCreate, object: &corev1.Binding{}, gvk: core("Binding")},
	"eviction": {style: styleCreate, object: &policyv1.Eviction{}, gvk: policyv1.SchemeGroupVersion.WithKind("Eviction")},
	"token": {
		style: styleCreate, object: &authenticationv1.TokenRequest{},
		gvk: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"),
	},
	"log": {style: styleLog, options: map[string]any{"": &corev1.PodLogOptions{}}},
	"exec": {
		style: styleConnect, methods: []string{http.MethodGet, http.MethodPost},
		options: map[string]any{"": &corev1.PodExecOptions{}},
	},
	"attach": {
		style: styleConnect, methods: []string{http.MethodGet, http.MethodPost},
		options: map[string]any{"": &corev1.PodAttachOptions{}},
	},
	"portforward": {
		style: styleConnect, methods: []string{http.MethodGet, http.MethodPost},
		options: map[string]any{"": &corev1.PodPortForwardOptions{}},
	},
	"proxy": {
		style: styleConnect, methods: proxyMethods,
		options: map[string]any{
			"Pod":     &corev1.PodProxyOptions{},
			"Service": &corev1.ServiceProxyOptions{},
			"Node":    &corev1.NodeProxyOptions{},
		},
	},
}

// optionsFor returns the options struct of a log or connect subresource of
// parent, and the kind it is registered as (which connect operations carry).
func (s subresourceSpec) optionsFor(name, parent string) (any, schema.GroupVersionKind, error) {
	opts, ok := s.options[parent]
	if !ok {
		opts, ok = s.options[""]
	}
	if !ok {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("subresource %q is not known for kind %q", name, parent)
	}
	return opts, core(typeOf(opts).Name()), nil
}
