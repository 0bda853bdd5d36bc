package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Nodes authenticate as system:node:NAME in the group system:nodes. As
// upstream's Node authorizer and NodeRestriction admission do, a node may read
// (but of Secrets and ConfigMaps only those its pods use), and may write only
// its own Node, its own Lease, events, and the pods bound to it (their status,
// their deletion, their eviction).
const (
	nodesGroup     = "system:nodes"
	nodeUserPrefix = "system:node:"
	nodeLeaseNS    = "kube-node-lease"
)

// nodeName returns the node a user is, or "" for any other user.
func nodeName(u User) string {
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

// verb is the Kubernetes verb of a request.
func verb(r *http.Request, req request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case req.watch:
			return "watch"
		case req.name == "":
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if req.name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(r.Method)
}

// authorizeNode refuses a node's writes beyond its own objects. Other users
// are not restricted here.
func (s *Server) authorizeNode(r *http.Request, req request) error {
	u, _ := UserFrom(r.Context())
	node := nodeName(u)
	if node == "" {
		return nil
	}
	v := verb(r, req)
	if req.res.GVK.Group == "" && (req.res.Name == "secrets" || req.res.Name == "configmaps") {
		// As upstream's Node authorizer: a node reads only what its pods use.
		if v != "get" || req.subresource != "" {
			return nodeForbidden(u, v, req, fmt.Sprintf("node %q may only get the %s its pods reference, one by one", node, req.res.Name))
		}
		if !s.podOfNodeUses(node, req.namespace, req.res.Name, req.name) {
			return nodeForbidden(u, v, req, fmt.Sprintf("no relationship found between node %q and this object", node))
		}
		return nil
	}
	if v == "get" || v == "list" || v == "watch" {
		return nil
	}
	sub := strings.SplitN(req.subresource, "/", 2)[0]
	forbid := func(why string) error {
		return nodeForbidden(u, v, req, why)
	}
	switch req.res.GVK.Group + "/" + req.res.Name {
	case "/nodes":
		switch {
		case v == "deletecollection":
			return forbid(fmt.Sprintf("node %q may only modify its own Node", node))
		case v == "create":
			return nil // the name is checked once the body is decoded (admitNodeCreate)
		case req.name != node:
			return forbid(fmt.Sprintf("node %q may only modify its own Node, not %q", node, req.name))
		}
		return nil
	case "coordination.k8s.io/leases":
		if req.namespace != nodeLeaseNS || v == "deletecollection" {
			return forbid(fmt.Sprintf("node %q may only modify its own Lease in %s", node, nodeLeaseNS))
		}
		if v != "create" && req.name != node {
			return forbid(fmt.Sprintf("node %q may only modify its own Lease, not %q", node, req.name))
		}
		return nil
	case "/events", "events.k8s.io/events":
		if v == "create" || v == "update" || v == "patch" {
			return nil
		}
		return forbid(fmt.Sprintf("node %q may only create and update events", node))
	case "/pods":
		switch {
		case v == "delete" && sub == "",
			(v == "update" || v == "patch") && sub == "status",
			v == "create" && sub == "eviction":
		default:
			return forbid(fmt.Sprintf("node %q may only update the status of, delete or evict the pods bound to it", node))
		}
		e, err := s.getEntry(req)
		if err != nil {
			return nil // the request itself answers NotFound
		}
		obj, err := e.object()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != node {
			return forbid(fmt.Sprintf("node %q can only modify pods bound to it; pod %q is bound to %q", node, req.name, pod.Spec.NodeName))
		}
		return nil
	}
	return forbid(fmt.Sprintf("node %q may only modify its own Node, its Lease, events and the pods bound to it", node))
}

// admitNodeCreate checks the name of a Node or Lease a node creates, which
// only the decoded body carries.
func admitNodeCreate(ctx context.Context, res *Resource, obj runtime.Object) error {
	u, _ := UserFrom(ctx)
	node := nodeName(u)
	if node == "" {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	kind := res.GVK.Group + "/" + res.Name
	if (kind == "/nodes" || kind == "coordination.k8s.io/leases") && acc.GetName() != node {
		return nodeForbidden(u, "create", request{res: res, namespace: acc.GetNamespace(), name: acc.GetName()},
			fmt.Sprintf("node %q may only create its own %s, not %q", node, res.GVK.Kind, acc.GetName()))
	}
	return nil
}

// nodeForbidden words the refusal as upstream's authorizer does.
func nodeForbidden(u User, v string, req request, why string) error {
	resource := req.res.Name
	if req.subresource != "" {
		resource += "/" + strings.SplitN(req.subresource, "/", 2)[0]
	}
	where := "at the cluster scope"
	if req.namespace != "" {
		where = fmt.Sprintf("in the namespace %q", req.namespace)
	}
	err := fmt.Errorf("User %q cannot %s resource %q in API group %q %s: %s", u.Name, v, resource, req.res.GVK.Group, where, why)
	return apierrors.NewForbidden(req.res.groupResource(), req.name, err)
}

// podOfNodeUses reports whether a pod bound to node in namespace references the
// secret or configmap name (volumes, projected volumes, env, envFrom, image
// pull secrets).
func (s *Server) podOfNodeUses(node, namespace, resource, name string) bool {
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
		if pod, ok := obj.(*corev1.Pod); ok && podReferences(&pod.Spec, resource, name) {
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
