package openapi

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testKinds is a server's worth of kinds: what Skiff serves, give or take.
func testKinds() []Kind {
	core := func(kind, resource string, namespaced bool, obj, list any, subs ...string) Kind {
		return Kind{
			GVK: corev1.SchemeGroupVersion.WithKind(kind), Resource: resource, Namespaced: namespaced,
			Object: obj, List: list, Subresources: subs,
		}
	}
	apps := func(kind, resource string, obj, list any, subs ...string) Kind {
		return Kind{
			GVK: appsv1.SchemeGroupVersion.WithKind(kind), Resource: resource, Namespaced: true,
			Object: obj, List: list, Subresources: subs,
		}
	}
	return []Kind{
		core("Pod", "pods", true, &corev1.Pod{}, &corev1.PodList{},
			"status", "binding", "eviction", "log", "exec", "attach", "portforward", "proxy", "ephemeralcontainers"),
		core("Service", "services", true, &corev1.Service{}, &corev1.ServiceList{}, "status", "proxy"),
		core("Endpoints", "endpoints", true, &corev1.Endpoints{}, &corev1.EndpointsList{}),
		core("Node", "nodes", false, &corev1.Node{}, &corev1.NodeList{}, "status", "proxy"),
		core("Namespace", "namespaces", false, &corev1.Namespace{}, &corev1.NamespaceList{}, "status", "finalize"),
		core("ConfigMap", "configmaps", true, &corev1.ConfigMap{}, &corev1.ConfigMapList{}),
		core("Secret", "secrets", true, &corev1.Secret{}, &corev1.SecretList{}),
		core("ServiceAccount", "serviceaccounts", true, &corev1.ServiceAccount{}, &corev1.ServiceAccountList{}, "token"),
		core("Event", "events", true, &corev1.Event{}, &corev1.EventList{}),
		core("ReplicationController", "replicationcontrollers", true,
			&corev1.ReplicationController{}, &corev1.ReplicationControllerList{}, "status", "scale"),
		core("PersistentVolumeClaim", "persistentvolumeclaims", true,
			&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolumeClaimList{}, "status"),
		apps("Deployment", "deployments", &appsv1.Deployment{}, &appsv1.DeploymentList{}, "status", "scale"),
		apps("ReplicaSet", "replicasets", &appsv1.ReplicaSet{}, &appsv1.ReplicaSetList{}, "status", "scale"),
		apps("StatefulSet", "statefulsets", &appsv1.StatefulSet{}, &appsv1.StatefulSetList{}, "status", "scale"),
		apps("DaemonSet", "daemonsets", &appsv1.DaemonSet{}, &appsv1.DaemonSetList{}, "status"),
		{
			GVK: batchv1.SchemeGroupVersion.WithKind("Job"), Resource: "jobs", Namespaced: true,
			Object: &batchv1.Job{}, List: &batchv1.JobList{}, Subresources: []string{"status"},
		},
		{
			GVK: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Resource: "leases", Namespaced: true,
			Object: &coordinationv1.Lease{}, List: &coordinationv1.LeaseList{},
		},
		{
			GVK: eventsv1.SchemeGroupVersion.WithKind("Event"), Resource: "events", Namespaced: true,
			Object: &eventsv1.Event{}, List: &eventsv1.EventList{},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		},
		{
			GVK: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ControllerRevision"}, Resource: "controllerrevisions",
			Namespaced: true, Object: &appsv1.ControllerRevision{}, List: &appsv1.ControllerRevisionList{},
		},
	}
}
