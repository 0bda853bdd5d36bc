package registry

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
)

func namespaces() *apiserver.Resource {
	r := base(core.WithKind("Namespace"), "namespaces", "namespace", false,
		func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} })
	r.ShortNames = []string{"ns"}
	r.Status = true
	r.Subresources = []apiserver.Subresource{{Name: "finalize", Kind: core.WithKind("Namespace"), Verbs: []string{"update"}}}
	// The "kubernetes" finalizer is added on create only: adding it on every write
	// would undo the namespace controller's finalize.
	r.PrepareForCreate = func(obj runtime.Object) { defaults.NewNamespace(obj.(*corev1.Namespace)) }
	r.Default = func(obj runtime.Object) { defaults.Namespace(obj.(*corev1.Namespace)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateNamespace(obj.(*corev1.Namespace)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateNamespaceUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		// spec.finalizers change only through /finalize.
		obj.(*corev1.Namespace).Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
		return nil
	}
	r.MarkDeleting = func(obj runtime.Object) {
		obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
	}
	return r
}

func endpoints() *apiserver.Resource {
	r := base(core.WithKind("Endpoints"), "endpoints", "endpoints", true,
		func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} })
	r.ShortNames = []string{"ep"}
	r.AllowCreateOnUpdate = true
	r.Default = func(obj runtime.Object) { defaults.Endpoints(obj.(*corev1.Endpoints)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateEndpoints(obj.(*corev1.Endpoints)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateEndpointsUpdate(obj.(*corev1.Endpoints), old.(*corev1.Endpoints))
	}
	return r
}

func nodes() *apiserver.Resource {
	r := base(core.WithKind("Node"), "nodes", "node", false,
		func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} })
	r.ShortNames = []string{"no"}
	r.Status = true
	r.KeepStatusOnCreate = true
	r.Subresources = []apiserver.Subresource{{Name: "proxy", Kind: core.WithKind("NodeProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}}}
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateNode(obj.(*corev1.Node)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList { return nil }
	r.Fields = func(obj runtime.Object) fields.Set {
		if obj.(*corev1.Node).Spec.Unschedulable {
			return fields.Set{"spec.unschedulable": "true"}
		}
		return fields.Set{"spec.unschedulable": "false"}
	}
	return r
}

func events() *apiserver.Resource {
	r := base(core.WithKind("Event"), "events", "event", true,
		func() runtime.Object { return &corev1.Event{} }, func() runtime.Object { return &corev1.EventList{} })
	r.ShortNames = []string{"ev"}
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateEvent(obj.(*corev1.Event)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList { return validation.ValidateEvent(obj.(*corev1.Event)) }
	r.Fields = func(obj runtime.Object) fields.Set {
		e := obj.(*corev1.Event)
		source := e.Source.Component
		if source == "" {
			source = e.ReportingController
		}
		return fields.Set{
			"involvedObject.kind":            e.InvolvedObject.Kind,
			"involvedObject.namespace":       e.InvolvedObject.Namespace,
			"involvedObject.name":            e.InvolvedObject.Name,
			"involvedObject.uid":             string(e.InvolvedObject.UID),
			"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
			"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
			"reason":                         e.Reason,
			"reportingComponent":             e.ReportingController,
			"source":                         source,
			"type":                           e.Type,
		}
	}
	return r
}

func configMaps() *apiserver.Resource {
	r := base(core.WithKind("ConfigMap"), "configmaps", "configmap", true,
		func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} })
	r.ShortNames = []string{"cm"}
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateConfigMap(obj.(*corev1.ConfigMap)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateConfigMapUpdate(obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
	}
	return r
}

func secrets() *apiserver.Resource {
	r := base(core.WithKind("Secret"), "secrets", "secret", true,
		func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} })
	r.Default = func(obj runtime.Object) { defaults.Secret(obj.(*corev1.Secret)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateSecret(obj.(*corev1.Secret)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateSecretUpdate(obj.(*corev1.Secret), old.(*corev1.Secret))
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
	}
	return r
}

func serviceAccounts() *apiserver.Resource {
	r := base(core.WithKind("ServiceAccount"), "serviceaccounts", "serviceaccount", true,
		func() runtime.Object { return &corev1.ServiceAccount{} }, func() runtime.Object { return &corev1.ServiceAccountList{} })
	r.ShortNames = []string{"sa"}
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateServiceAccount(obj.(*corev1.ServiceAccount))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateServiceAccountUpdate(obj.(*corev1.ServiceAccount), old.(*corev1.ServiceAccount))
	}
	return r
}

func leases() *apiserver.Resource {
	r := base(coordination().WithKind("Lease"), "leases", "lease", true,
		func() runtime.Object { return &coordinationv1.Lease{} }, func() runtime.Object { return &coordinationv1.LeaseList{} })
	r.AllowCreateOnUpdate = true
	r.RequireResourceVersion = true
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateLease(obj.(*coordinationv1.Lease)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateLeaseUpdate(obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease))
	}
	return r
}

func endpointSlices() *apiserver.Resource {
	r := base(discovery().WithKind("EndpointSlice"), "endpointslices", "endpointslice", true,
		func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		func() runtime.Object { return &discoveryv1.EndpointSliceList{} })
	r.Default = func(obj runtime.Object) { defaults.EndpointSlice(obj.(*discoveryv1.EndpointSlice)) }
	r.SpecChanged = func(obj, old runtime.Object) bool {
		n, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
		return !equality.Semantic.DeepEqual(n.Endpoints, o.Endpoints) || !equality.Semantic.DeepEqual(n.Ports, o.Ports) || n.AddressType != o.AddressType
	}
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateEndpointSliceUpdate(obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice))
	}
	return r
}
