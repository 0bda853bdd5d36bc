package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// Who may do what: upstream's chain. Members of system:masters may do
// everything; a node (system:node:NAME in system:nodes) gets what upstream's
// Node authorizer and NodeRestriction admission give a kubelet, plus the
// reads of Services, EndpointSlices, Endpoints and Nodes that Skiff's node
// agent needs for the service proxy, cluster DNS and the pod network it runs
// on the node's credentials (upstream's kube-proxy reads them as
// system:node-proxier); everything else is what RBAC grants (Config.RBAC),
// anonymous requests (system:anonymous in system:unauthenticated) included,
// which the default policy lets read health checks and the version only.
// Without Config.RBAC (tests of this package), every authenticated identity
// other than a node may do everything, and anonymous requests only that.
const (
	nodesGroup           = "system:nodes"
	nodeUserPrefix       = "system:node:"
	nodeLeaseNS          = "kube-node-lease"
	anonymousUser        = "system:anonymous"
	unauthenticatedGroup = "system:unauthenticated"
	authenticatedGroup   = "system:authenticated"
)

// publicInfoPaths are the non-resource paths anonymous clients may get
// (upstream's system:public-info-viewer): load balancers' health checks.
var publicInfoPaths = []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}

// discoveryPrefixes are the non-resource paths every authenticated user may
// get (upstream's system:discovery and system:public-info-viewer).
var discoveryPrefixes = []string{"/api", "/apis", "/openapi"}

// attributes are what an authorization decision looks at, as upstream's
// authorizer.Attributes.
type attributes struct {
	user User
	verb string
	// A resource request names a resource; any other is a path.
	resourceRequest bool
	group           string
	resource        string
	subresource     string
	namespace       string
	name            string
	path            string
	// fieldSelector is the request's, for the Node authorizer's pod lists.
	fieldSelector string
	// explain asks for the reason of an allow too (access reviews report
	// it; requests do not pay for the words).
	explain bool
}

// anonymous is who a request without credentials is.
func anonymous() User {
	return User{Name: anonymousUser, Groups: []string{unauthenticatedGroup}}
}

func isAnonymous(u User) bool { return u.Name == anonymousUser }

// nodeName returns the node a user is, or "" for any other user.
func nodeName(u User) string { return u.Node() }

// Node is the node a user is (system:node:NAME in system:nodes), or "".
func (u User) Node() string {
	if !strings.HasPrefix(u.Name, nodeUserPrefix) {
		return ""
	}
	for _, g := range u.Groups {
		if g == nodesGroup {
			return strings.TrimPrefix(u.Name, nodeUserPrefix)
		}
	}
	return ""
}

// streamingSubresources run commands in, attach to or tunnel into a pod: upstream
// authorizes them as create whatever the method, since a GET that upgrades
// does what a POST does.
var streamingSubresources = []string{"exec", "attach", "portforward"}

// isUpgrade reports whether a request asks to switch protocols (SPDY or
// WebSocket).
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// resourceAttributes describes an API request for group/resource as its path
// names it (whether or not it is served). Its verb is the Kubernetes verb; an
// upgrade is a create: it opens a stream that can do anything a POST can.
func resourceAttributes(r *http.Request, u User, group, resource string, req request) attributes {
	a := attributes{
		user: u, resourceRequest: true, group: group, resource: resource,
		subresource: req.subresource, namespace: req.namespace, name: req.name, path: r.URL.Path,
	}
	if i := strings.IndexByte(a.subresource, '/'); i >= 0 {
		a.subresource = a.subresource[:i]
	}
	if nodeName(u) != "" {
		a.fieldSelector = r.URL.Query().Get("fieldSelector") // for the Node authorizer's pod lists
	}
	switch {
	case isUpgrade(r), group == "" && resource == "pods" && slices.Contains(streamingSubresources, a.subresource):
		a.verb = "create"
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		switch {
		case req.watch:
			a.verb = "watch"
		case req.name == "":
			a.verb = "list"
		default:
			a.verb = "get"
		}
	case r.Method == http.MethodPost:
		a.verb = "create"
	case r.Method == http.MethodPut:
		a.verb = "update"
	case r.Method == http.MethodPatch:
		a.verb = "patch"
	case r.Method == http.MethodDelete && req.name == "":
		a.verb = "deletecollection"
	case r.Method == http.MethodDelete:
		a.verb = "delete"
	default:
		a.verb = strings.ToLower(r.Method)
	}
	return a
}

// pathAttributes describes a request for a path that is not an API resource.
func pathAttributes(r *http.Request, u User) attributes {
	v := strings.ToLower(r.Method)
	if isUpgrade(r) {
		v = "create"
	}
	return attributes{user: u, verb: v, path: r.URL.Path}
}

// authorize decides a request: nil, or upstream's 403 with the reason.
func (s *Server) authorize(a attributes) error {
	allowed, reason := s.decide(a)
	if allowed {
		return nil
	}
	return forbidden(a, reason)
}

// RBAC is upstream's RBAC authorizer (pkg/auth/rbac).
type RBAC interface {
	Authorize(*rbac.Attributes) rbac.Decision
	RulesFor(user string, groups []string, namespace string) ([]rbacv1.PolicyRule, error)
}

// MastersGroup may do everything, whatever the roles say (upstream's
// privileged-group authorizer ahead of the chain).
const MastersGroup = "system:masters"

func (s *Server) decide(a attributes) (bool, string) {
	if s.cfg.RBAC != nil {
		return s.decideChain(a)
	}
	switch {
	case isAnonymous(a.user):
		if !a.resourceRequest && a.verb == "get" && slices.Contains(publicInfoPaths, a.path) {
			return true, ""
		}
		return false, ""
	case nodeName(a.user) != "":
		if !a.resourceRequest {
			return discoveryPath(a.verb, a.path), ""
		}
		return s.decideNode(nodeName(a.user), a)
	}
	return true, ""
}

// decideChain is upstream's chain: system:masters, then the Node authorizer
// for nodes, then RBAC, whose refusal gives the Node authorizer's reason
// where it had one.
func (s *Server) decideChain(a attributes) (bool, string) {
	if slices.Contains(a.user.Groups, MastersGroup) {
		return true, ""
	}
	var reason string
	if node := nodeName(a.user); node != "" && a.resourceRequest {
		ok, why := s.decideNode(node, a)
		if ok {
			return true, ""
		}
		reason = why
	}
	d := s.cfg.RBAC.Authorize(&rbac.Attributes{
		User: a.user.Name, Groups: a.user.Groups, Verb: a.verb, ResourceRequest: a.resourceRequest,
		APIGroup: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace, Name: a.name, Path: a.path,
	})
	if d.Allowed {
		if a.explain {
			return true, d.Reason()
		}
		return true, ""
	}
	if reason == "" {
		reason = d.Reason()
	}
	return false, reason
}

// discoveryPath reports whether any authenticated user may get path.
func discoveryPath(verb, path string) bool {
	if verb != "get" {
		return false
	}
	if slices.Contains(publicInfoPaths, path) {
		return true
	}
	for _, p := range discoveryPrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// forbidden words a refusal as upstream's authorization filter does.
func forbidden(a attributes, reason string) error {
	var msg string
	switch {
	case !a.resourceRequest:
		msg = fmt.Sprintf("User %q cannot %s path %q", a.user.Name, a.verb, a.path)
	default:
		resource := a.resource
		if a.subresource != "" {
			resource += "/" + a.subresource
		}
		where := "at the cluster scope"
		if a.namespace != "" {
			where = fmt.Sprintf("in the namespace %q", a.namespace)
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q %s", a.user.Name, a.verb, resource, a.group, where)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.group, Resource: a.resource}, a.name, fmt.Errorf("%s", msg))
}

// nodeReads are the kinds a node may get, list and watch whole: the ones
// its agent, service proxy and pod network follow, the RuntimeClasses its
// pods name, and the ClusterTrustBundles their volumes may show (upstream's
// system:node role grants these).
var nodeReads = []string{"/nodes", "/services", "/endpoints", "discovery.k8s.io/endpointslices", "node.k8s.io/runtimeclasses",
	"certificates.k8s.io/clustertrustbundles"}

// decideNode is upstream's Node authorizer with its static node rules, and
// NodeRestriction's checks that need only the stored object.
func (s *Server) decideNode(node string, a attributes) (bool, string) {
	read := a.verb == "get" || a.verb == "list" || a.verb == "watch"
	kind := a.group + "/" + a.resource
	switch kind {
	case "/secrets", "/configmaps":
		switch {
		case !read:
			return false, "can only read resources of this type"
		case a.subresource != "":
			return false, "cannot read subresource"
		case a.namespace == "":
			return false, "can only read namespaced object of this type"
		case a.verb != "get" || a.name == "":
			return false, fmt.Sprintf("node %q may only get the %s its pods reference, one by one", node, a.resource)
		case !s.podOfNodeUses(node, a.namespace, a.resource, a.name):
			return false, fmt.Sprintf("no relationship found between node '%s' and this object", node)
		}
		return true, ""
	case "/nodes":
		switch a.subresource {
		case "":
			switch a.verb {
			case "get", "list", "watch":
				return true, ""
			case "create":
				return true, "" // the name is checked once the body is decoded (admitNode)
			case "update", "patch":
				if a.name != node {
					return false, fmt.Sprintf("node %q is not allowed to modify node %q", node, a.name)
				}
				return true, ""
			}
		case "status":
			if (a.verb == "update" || a.verb == "patch") && a.name == node {
				return true, ""
			}
			if a.verb == "update" || a.verb == "patch" {
				return false, fmt.Sprintf("node %q is not allowed to modify node %q", node, a.name)
			}
		}
		return false, ""
	case "coordination.k8s.io/leases":
		switch {
		case !slices.Contains([]string{"get", "create", "update", "patch", "delete"}, a.verb) || a.subresource != "":
			return false, "can only get, create, update, patch, or delete a node lease"
		case a.namespace != nodeLeaseNS:
			return false, fmt.Sprintf("can only access leases in the %q system namespace", nodeLeaseNS)
		case a.verb != "create" && a.name != node:
			return false, "can only access node lease with the same name as the requesting node"
		}
		return true, ""
	case "/events", "events.k8s.io/events":
		return a.subresource == "" && (a.verb == "create" || a.verb == "update" || a.verb == "patch"), ""
	case "/pods":
		return s.decideNodePod(node, a)
	case "/serviceaccounts":
		// A token for a pod, and the account itself, whose UID a pod
		// certificate request carries.
		if a.subresource == "token" && a.verb == "create" || a.subresource == "" && a.verb == "get" {
			if s.nodeRunsAs(node, a.namespace, a.name) {
				return true, ""
			}
			return false, fmt.Sprintf("no relationship found between node '%s' and this object", node)
		}
	case "certificates.k8s.io/podcertificaterequests":
		return s.decideNodePodCertificate(node, a)
	}
	if slices.Contains(nodeReads, kind) && read && a.subresource == "" {
		return true, ""
	}
	return false, ""
}

// decideNodePod lets a node read and write only the pods bound to it, and
// none of their streaming or proxy subresources.
func (s *Server) decideNodePod(node string, a attributes) (bool, string) {
	switch a.subresource {
	case "":
		switch a.verb {
		case "list", "watch":
			if sel, err := fields.ParseSelector(a.fieldSelector); err == nil {
				for _, r := range sel.Requirements() {
					if r.Field == "spec.nodeName" && (r.Operator == selection.Equals || r.Operator == selection.DoubleEquals) && r.Value == node {
						return true, ""
					}
				}
			}
			return false, "can only list/watch pods with spec.nodeName field selector"
		case "get", "delete":
			return s.podBoundTo(node, a)
		case "create":
			return false, fmt.Sprintf("pod does not have %q annotation, node %q can only create mirror pods", corev1.MirrorPodAnnotationKey, node)
		}
	case "status":
		if a.verb == "update" || a.verb == "patch" {
			return s.podBoundTo(node, a)
		}
	case "eviction":
		if a.verb == "create" {
			return s.podBoundTo(node, a)
		}
	}
	return false, ""
}

// decideNodePodCertificate is upstream's Node authorizer for
// PodCertificateRequests: a node creates them (for its own pods, which
// admitNode checks once the body is decoded) and reads the ones naming it.
func (s *Server) decideNodePodCertificate(node string, a attributes) (bool, string) {
	if a.subresource != "" {
		return false, "nodes may not access the status subresource of PodCertificateRequests"
	}
	switch a.verb {
	case "create":
		return true, ""
	case "get":
		if pcr := s.storedPodCertificateRequest(a.namespace, a.name); pcr != nil && string(pcr.Spec.NodeName) != node {
			return false, fmt.Sprintf("no relationship found between node '%s' and this object", node)
		}
		return true, "" // one that does not exist answers NotFound
	case "list", "watch":
		if sel, err := fields.ParseSelector(a.fieldSelector); err == nil {
			for _, r := range sel.Requirements() {
				if r.Field == "spec.nodeName" && (r.Operator == selection.Equals || r.Operator == selection.DoubleEquals) && r.Value == node {
					return true, ""
				}
			}
		}
		return false, "can only list/watch podcertificaterequests with nodeName field selector"
	}
	return false, ""
}

func (s *Server) storedPodCertificateRequest(namespace, name string) *certificatesv1.PodCertificateRequest {
	pcr, _ := s.Get("certificates.k8s.io/v1", "podcertificaterequests", namespace, name).(*certificatesv1.PodCertificateRequest)
	return pcr
}

// podBoundTo allows a request for a pod bound to node. A pod that does not
// exist is left to the request itself, which answers NotFound.
func (s *Server) podBoundTo(node string, a attributes) (bool, string) {
	pods := s.reg.Lookup("v1", "pods")
	if pods == nil {
		return false, ""
	}
	e, _ := s.cache.get(pods, pods.key(a.namespace, a.name))
	if e == nil {
		return true, ""
	}
	if bound, _ := e.fields.Lookup("spec.nodeName"); bound != node {
		// Worded as upstream's Node authorizer and NodeRestriction admission.
		switch {
		case a.verb == "delete":
			return false, fmt.Sprintf("node %q can only delete pods with spec.nodeName set to itself", node)
		case a.subresource == "status":
			return false, fmt.Sprintf("node %q can only update pod status for pods with spec.nodeName set to itself", node)
		case a.subresource == "eviction":
			return false, fmt.Sprintf("node %q can only evict pods with spec.nodeName set to itself", node)
		}
		return false, fmt.Sprintf("no relationship found between node '%s' and this object", node)
	}
	return true, ""
}

// admitNode is upstream's NodeRestriction for what a node writes that only
// the decoded body tells: the name of a Node or Lease it creates, the labels,
// taints and owners of its own Node. (What pod a PodCertificateRequest is
// for is checked by its kind's admission.) old is nil on create.
func admitNode(ctx context.Context, res *Resource, obj, old runtime.Object) error {
	u, _ := UserFrom(ctx)
	node := nodeName(u)
	if node == "" {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	op := "create"
	if old != nil {
		op = "update"
	}
	refuse := func(why string) error {
		return apierrors.NewForbidden(res.groupResource(), acc.GetName(), fmt.Errorf("%s", why))
	}
	kind := res.GVK.Group + "/" + res.Name
	if old == nil && (kind == "/nodes" || kind == "coordination.k8s.io/leases") && acc.GetName() != node {
		return forbidden(attributes{user: u, verb: op, resourceRequest: true, group: res.GVK.Group, resource: res.Name,
			namespace: acc.GetNamespace(), name: acc.GetName()},
			fmt.Sprintf("node %q may only create its own %s, not %q", node, res.GVK.Kind, acc.GetName()))
	}
	if kind != "/nodes" {
		return nil
	}
	n := obj.(*corev1.Node)
	if old == nil {
		if n.Spec.ConfigSource != nil {
			return refuse(fmt.Sprintf("node %q is not allowed to create pods with a non-nil configSource", node))
		}
		if bad := forbiddenNodeLabels(n.Labels, nil); len(bad) > 0 {
			return refuse(fmt.Sprintf("node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", ")))
		}
		return nil
	}
	was := old.(*corev1.Node)
	switch {
	case n.Spec.ConfigSource != nil && !equality.Semantic.DeepEqual(n.Spec.ConfigSource, was.Spec.ConfigSource):
		return refuse(fmt.Sprintf("node %q is not allowed to update configSource to a new non-nil configSource", node))
	case !equality.Semantic.DeepEqual(n.Spec.Taints, was.Spec.Taints):
		return refuse(fmt.Sprintf("node %q is not allowed to modify taints", node))
	case !equality.Semantic.DeepEqual(n.OwnerReferences, was.OwnerReferences):
		return refuse(fmt.Sprintf("node %q is not allowed to modify ownerReferences", node))
	}
	if bad := forbiddenNodeLabels(n.Labels, was.Labels); len(bad) > 0 {
		return refuse(fmt.Sprintf("is not allowed to modify labels: %s", strings.Join(bad, ", ")))
	}
	return nil
}

// kubeletLabels are the kubernetes.io labels a node may set on itself, and
// kubeletLabelDomains the label domains it may use (with their subdomains).
var (
	kubeletLabels = []string{
		corev1.LabelHostname, corev1.LabelTopologyZone, corev1.LabelTopologyRegion,
		corev1.LabelFailureDomainBetaZone, corev1.LabelFailureDomainBetaRegion,
		corev1.LabelInstanceType, corev1.LabelInstanceTypeStable,
		corev1.LabelOSStable, corev1.LabelArchStable, "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
	}
	kubeletLabelDomains = []string{corev1.LabelNamespaceSuffixKubelet, corev1.LabelNamespaceSuffixNode}
)

// forbiddenNodeLabels lists, sorted, the labels added, removed or changed
// between old and cur that a node may not touch: node-restriction ones, and
// kubernetes.io or k8s.io ones other than the kubelet's own.
func forbiddenNodeLabels(cur, old map[string]string) []string {
	var bad []string
	check := func(k string) {
		domain, _, ok := strings.Cut(k, "/")
		if !ok {
			return
		}
		if inDomain(domain, corev1.LabelNamespaceNodeRestriction) ||
			(inDomain(domain, "kubernetes.io") || inDomain(domain, "k8s.io")) && !kubeletLabel(k, domain) {
			bad = append(bad, k)
		}
	}
	for k, v := range cur {
		if ov, ok := old[k]; !ok || ov != v {
			check(k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			check(k)
		}
	}
	sort.Strings(bad)
	return bad
}

func inDomain(domain, parent string) bool {
	return domain == parent || strings.HasSuffix(domain, "."+parent)
}

func kubeletLabel(key, domain string) bool {
	if slices.Contains(kubeletLabels, key) {
		return true
	}
	for _, d := range kubeletLabelDomains {
		if inDomain(domain, d) {
			return true
		}
	}
	return false
}

// podOfNodeUses reports whether a pod bound to node in namespace references the
// secret or configmap name (volumes, projected volumes, env, envFrom, image
// pull secrets).
func (s *Server) podOfNodeUses(node, namespace, resource, name string) bool {
	return s.anyPodOnNode(node, namespace, func(pod *corev1.Pod) bool { return podReferences(&pod.Spec, resource, name) })
}

// anyPodOnNode reports whether a pod bound to node in namespace matches.
func (s *Server) anyPodOnNode(node, namespace string, match func(*corev1.Pod) bool) bool {
	pods := s.reg.Lookup("v1", "pods")
	if pods == nil {
		return false
	}
	entries, _ := s.cache.list(pods, namespace, func(e *entry) bool {
		n, _ := e.fields.Lookup("spec.nodeName")
		return n == node
	})
	for _, e := range entries {
		obj, err := e.object()
		if err != nil {
			continue
		}
		if pod, ok := obj.(*corev1.Pod); ok && match(pod) {
			return true
		}
	}
	return false
}

// podReferences reports whether spec uses the secret or configmap name.
func podReferences(spec *corev1.PodSpec, resource, name string) bool {
	secret := resource == "secrets"
	if secret {
		for _, r := range spec.ImagePullSecrets {
			if r.Name == name {
				return true
			}
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case secret && v.Secret != nil && v.Secret.SecretName == name,
			!secret && v.ConfigMap != nil && v.ConfigMap.Name == name:
			return true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if secret && src.Secret != nil && src.Secret.Name == name || !secret && src.ConfigMap != nil && src.ConfigMap.Name == name {
					return true
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, ec := range spec.EphemeralContainers {
		containers = append(containers, corev1.Container(ec.EphemeralContainerCommon))
	}
	for _, c := range containers {
		for _, f := range c.EnvFrom {
			if secret && f.SecretRef != nil && f.SecretRef.Name == name || !secret && f.ConfigMapRef != nil && f.ConfigMapRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if secret && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name ||
				!secret && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name {
				return true
			}
		}
	}
	return false
}
