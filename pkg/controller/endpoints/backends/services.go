package backends

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Selects reports whether a Service's selector picks the pod's labels. A
// Service without a selector (nil or empty: the two are the same once stored)
// picks nothing; its endpoints are the user's.
func Selects(svc *corev1.Service, podLabels map[string]string) bool {
	if len(svc.Spec.Selector) == 0 {
		return false
	}
	for k, v := range svc.Spec.Selector {
		if got, ok := podLabels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// HasSelector reports whether the Service's endpoints are derived from pods.
func HasSelector(svc *corev1.Service) bool { return len(svc.Spec.Selector) > 0 }

// SelectorOf is the Service's selector as a labels.Selector for lister queries.
func SelectorOf(svc *corev1.Service) labels.Selector {
	return labels.Set(svc.Spec.Selector).AsSelectorPreValidated()
}

// ServicesForPod returns the keys (namespace/name) of the Services in the
// pod's namespace that select it. The lister's namespace index keeps this to
// the Services of one namespace.
func ServicesForPod(services corelisters.ServiceLister, pod *corev1.Pod) []string {
	return servicesForLabels(services, pod.Namespace, pod.Labels, nil)
}

func servicesForLabels(services corelisters.ServiceLister, ns string, podLabels map[string]string, into []string) []string {
	if len(podLabels) == 0 {
		return into
	}
	list, err := services.Services(ns).List(labels.Everything())
	if err != nil {
		return into
	}
	for _, svc := range list {
		if Selects(svc, podLabels) {
			into = append(into, ns+"/"+svc.Name)
		}
	}
	return into
}

// ServicesForPodUpdate returns the keys of the Services an update of a pod
// concerns: none when nothing the endpoints show changed; the Services that
// select the new version; and, when its labels changed, also those that
// selected the old one (which must drop it).
func ServicesForPodUpdate(services corelisters.ServiceLister, old, cur *corev1.Pod) []string {
	if old.ResourceVersion == cur.ResourceVersion {
		return nil // a resync: nothing happened
	}
	changed, relabelled := PodChanged(old, cur)
	if !changed && !relabelled {
		return nil
	}
	keys := servicesForLabels(services, cur.Namespace, cur.Labels, nil)
	if !relabelled {
		return keys
	}
	before := servicesForLabels(services, old.Namespace, old.Labels, nil)
	if changed {
		return union(keys, before)
	}
	// Only the membership moved: the Services that kept the pod see the same
	// endpoint, unless hostname or subdomain (part of the endpoint) changed.
	if old.Spec.Hostname != cur.Spec.Hostname || old.Spec.Subdomain != cur.Spec.Subdomain {
		return union(keys, before)
	}
	return symmetricDifference(keys, before)
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(a, b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func symmetricDifference(a, b []string) []string {
	inA := make(map[string]bool, len(a))
	for _, s := range a {
		inA[s] = true
	}
	inB := make(map[string]bool, len(b))
	for _, s := range b {
		inB[s] = true
	}
	var out []string
	for _, s := range a {
		if !inB[s] {
			out = append(out, s)
		}
	}
	for _, s := range b {
		if !inA[s] {
			out = append(out, s)
		}
	}
	return out
}

// PodFromDelete unwraps an informer delete notification.
func PodFromDelete(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		pod, _ := o.Obj.(*corev1.Pod)
		return pod
	}
	return nil
}

// ServiceKey is the workqueue key of a Service (or of an object named after
// one, like its Endpoints): namespace/name.
func ServiceKey(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key, err == nil
}
