package networking

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

type errs = []validationtest.Err

var (
	required    = validationtest.Required
	requiredMsg = func(path, detail string) validationtest.Err {
		return validationtest.Err{Type: field.ErrorTypeRequired, Field: path, Detail: detail}
	}
	invalid      = validationtest.Invalid
	notSupported = validationtest.NotSupported
	forbidden    = validationtest.Forbidden
	tooLong      = validationtest.TooLong
	expectErrs   = validationtest.Expect
)

func serviceBackend(name string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: name, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

// ingress is the conformance test's Ingress: a default backend and one rule.
func ingress(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-example-ing", Namespace: "default"},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: ptr.To(serviceBackend("default-backend", 8080)),
			Rules: []networkingv1.IngressRule{{Host: "foo.bar.com", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypeImplementationSpecific), Backend: serviceBackend("test-backend", 8080),
				}}}}}},
		},
	}
	if mutate != nil {
		mutate(ing)
	}
	return ing
}

func firstPath(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
	return &ing.Spec.Rules[0].HTTP.Paths[0]
}

func TestValidateIngress(t *testing.T) {
	const path0 = "spec.rules[0].http.paths[0]"
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   errs
	}{
		{"valid", nil, nil},
		{"wildcard host, TLS, class, resource backend", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].Host = "*.bar.com"
			ing.Spec.IngressClassName = ptr.To("nginx")
			ing.Annotations = map[string]string{annotationIngressClass: "nginx"}
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.bar.com", "foo.bar.com"}, SecretName: "tls-cert"}}
			ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
				APIGroup: ptr.To("k8s.example.com"), Kind: "StorageBucket", Name: "static-assets"}}
		}, nil},
		{"rules only, port by name, a DNS-1123 label service", func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend = nil
			firstPath(ing).Backend.Service = &networkingv1.IngressServiceBackend{Name: "1st-backend", Port: networkingv1.ServiceBackendPort{Name: "http"}}
		}, nil},
		{"neither rules nor default backend", func(ing *networkingv1.Ingress) { ing.Spec.Rules, ing.Spec.DefaultBackend = nil, nil },
			errs{invalid("spec", "either `defaultBackend` or `rules` must be specified")}},
		{"no pathType", func(ing *networkingv1.Ingress) {
			firstPath(ing).PathType = nil
			firstPath(ing).Backend = networkingv1.IngressBackend{} // not checked without a pathType, as upstream
		}, errs{required(path0 + ".pathType")}},
		{"unknown pathType", func(ing *networkingv1.Ingress) { firstPath(ing).PathType = ptr.To(networkingv1.PathType("Regex")) },
			errs{notSupported(path0+".pathType", `supported values: "Exact", "ImplementationSpecific", "Prefix"`)}},
		{"relative Prefix path", func(ing *networkingv1.Ingress) {
			firstPath(ing).PathType, firstPath(ing).Path = ptr.To(networkingv1.PathTypePrefix), "foo"
		}, errs{invalid(path0+".path", "must be an absolute path")}},
		{"Exact path with // and a /.. end", func(ing *networkingv1.Ingress) {
			firstPath(ing).PathType, firstPath(ing).Path = ptr.To(networkingv1.PathTypeExact), "/a//b/.."
		}, errs{invalid(path0+".path", "must not contain '//'"), invalid(path0+".path", "cannot end with '/..'")}},
		{"ImplementationSpecific may be empty but not relative", func(ing *networkingv1.Ingress) {
			firstPath(ing).Path = "a/./b"
			ing.Spec.Rules = append(ing.Spec.Rules, *ing.Spec.Rules[0].DeepCopy())
			ing.Spec.Rules[1].HTTP.Paths[0].Path = ""
		}, errs{invalid(path0+".path", "must be an absolute path")}},
		{"no paths", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths = nil },
			errs{required("spec.rules[0].http.paths")}},
		{"IP host", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "10.0.0.1" },
			errs{invalid("spec.rules[0].host", "must be a DNS name, not an IP address")}},
		{"bad wildcard hosts", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].Host = "foo.*.com"
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*"}}}
		}, errs{invalid("spec.rules[0].host", "a wildcard DNS-1123 subdomain must start with '*.'"),
			invalid("spec.tls[0].hosts[0]", "a wildcard DNS-1123 subdomain must start with '*.'")}},
		{"host in capitals", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "Foo.com" },
			errs{invalid("spec.rules[0].host", "a lowercase RFC 1123 subdomain")}},
		{"both backends", func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend.Resource = &corev1.TypedLocalObjectReference{Kind: "K", Name: "n"}
		}, errs{invalid("spec.defaultBackend", "cannot set both resource and service backends")}},
		{"no backend", func(ing *networkingv1.Ingress) { firstPath(ing).Backend = networkingv1.IngressBackend{} },
			errs{invalid(path0+".backend", "resource or service backend is required")}},
		{"resource backend without kind or name", func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("Bad_Group")}}
		}, errs{invalid("spec.defaultBackend.resource.apiGroup", "a lowercase RFC 1123 subdomain"),
			required("spec.defaultBackend.resource.kind"), required("spec.defaultBackend.resource.name")}},
		{"service port by name and number", func(ing *networkingv1.Ingress) { ing.Spec.DefaultBackend.Service.Port.Name = "http" },
			errs{invalid("spec.defaultBackend", "cannot set both port name & port number")}},
		{"service port missing", func(ing *networkingv1.Ingress) { ing.Spec.DefaultBackend.Service.Port.Number = 0 },
			errs{requiredMsg("spec.defaultBackend", "port name or number is required")}},
		{"service name and port invalid", func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend.Service = &networkingv1.IngressServiceBackend{Name: "my.svc", Port: networkingv1.ServiceBackendPort{Number: 70000}}
			firstPath(ing).Backend.Service = &networkingv1.IngressServiceBackend{Port: networkingv1.ServiceBackendPort{Name: "http_port"}}
		}, errs{invalid("spec.defaultBackend.service.name", "must not contain dots"),
			invalid("spec.defaultBackend.service.port.number", "must be between 1 and 65535, inclusive"),
			required(path0 + ".backend.service.name"),
			invalid(path0+".backend.service.port.name", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")}},
		{"bad TLS secret and class names", func(ing *networkingv1.Ingress) {
			ing.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "Cert"}}
			ing.Spec.IngressClassName = ptr.To("Nginx")
		}, errs{invalid("spec.tls[0].secretName", "a lowercase RFC 1123 subdomain"),
			invalid("spec.ingressClassName", "a lowercase RFC 1123 subdomain")}},
		{"class annotation disagrees", func(ing *networkingv1.Ingress) {
			ing.Spec.IngressClassName = ptr.To("nginx")
			ing.Annotations = map[string]string{annotationIngressClass: "traefik"}
		}, errs{invalid("annotations.kubernetes.io/ingress.class", "must match `ingressClassName` when both are specified")}},
		{"not namespaced", func(ing *networkingv1.Ingress) { ing.Namespace = "" }, errs{required("metadata.namespace")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateIngress(ingress(tt.mutate)), tt.want...)
		})
	}
}

func TestIngressMessage(t *testing.T) {
	ing := ingress(func(ing *networkingv1.Ingress) { firstPath(ing).PathType = nil })
	validationtest.ExpectMessage(t, ValidateIngress(ing), "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified")
}

func TestValidateIngressUpdate(t *testing.T) {
	old := ingress(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)

	changed := old.DeepCopy()
	changed.Spec.Rules[0].Host = "other.bar.com"
	expectErrs(t, ValidateIngressUpdate(changed, old))

	broken := old.DeepCopy()
	broken.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "Cert"}}
	expectErrs(t, ValidateIngressUpdate(broken, old), invalid("spec.tls[0].secretName", "a lowercase RFC 1123 subdomain"))

	// What a stored Ingress already broke may stay broken.
	legacy := old.DeepCopy()
	legacy.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "Cert"}}
	legacy.Spec.Rules[0].Host = "*.bar.com"
	legacy.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	relabelled := legacy.DeepCopy()
	relabelled.Labels = map[string]string{"a": "b"}
	expectErrs(t, ValidateIngressUpdate(relabelled, legacy))
	// ... but not on a host without a wildcard.
	relabelled.Spec.Rules[0].Host = "foo.bar.com"
	expectErrs(t, ValidateIngressUpdate(relabelled, legacy), required("spec.rules[0].http.paths[0].pathType"))
}

func TestValidateIngressStatusUpdate(t *testing.T) {
	old := ingress(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	old.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "010.0.0.1"}}

	ing := old.DeepCopy()
	ing.Status.LoadBalancer.Ingress = append(ing.Status.LoadBalancer.Ingress,
		networkingv1.IngressLoadBalancerIngress{IP: "169.1.1.2"}, networkingv1.IngressLoadBalancerIngress{Hostname: "lb.example.com"})
	expectErrs(t, ValidateIngressStatusUpdate(ing, old))

	ing.Status.LoadBalancer.Ingress = append(ing.Status.LoadBalancer.Ingress,
		networkingv1.IngressLoadBalancerIngress{IP: "020.0.0.1"}, networkingv1.IngressLoadBalancerIngress{Hostname: "10.0.0.1"})
	expectErrs(t, ValidateIngressStatusUpdate(ing, old),
		invalid("status.loadBalancer.ingress[3].ip", "must not have leading 0s"),
		invalid("status.loadBalancer.ingress[4].hostname", "must be a DNS name, not an IP address"))
}

func TestValidateIngressClass(t *testing.T) {
	class := func(mutate func(*networkingv1.IngressClass)) *networkingv1.IngressClass {
		ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "ingressclass1"},
			Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}
		if mutate != nil {
			mutate(ic)
		}
		return ic
	}
	params := func(scope string, ns *string) *networkingv1.IngressClassParametersReference {
		return &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("example.com"), Kind: "fookind", Name: "fooname",
			Scope: ptr.To(scope), Namespace: ns}
	}
	tests := []struct {
		name   string
		mutate func(*networkingv1.IngressClass)
		want   errs
	}{
		{"valid", nil, nil},
		{"namespace-scoped parameters", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Namespace", ptr.To("foo-ns")) }, nil},
		{"cluster-scoped parameters", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Cluster", nil) }, nil},
		{"no controller", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "" }, errs{required("spec.controller")}},
		{"controller without a domain", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "controller" },
			errs{invalid("spec.controller", "must be a domain-prefixed path")}},
		{"controller too long", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "example.com/" + string(make([]byte, 250)) },
			errs{tooLong("spec.controller"), invalid("spec.controller", "")}},
		{"namespace scope without namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Namespace", nil) },
			errs{requiredMsg("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'")}},
		{"bad namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Namespace", ptr.To("Foo")) },
			errs{invalid("spec.parameters.namespace", "a lowercase RFC 1123 label")}},
		{"cluster scope with namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Cluster", ptr.To("foo-ns")) },
			errs{forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'")}},
		{"unknown scope", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params("Global", nil) },
			errs{notSupported("spec.parameters.scope", `supported values: "Cluster", "Namespace"`)}},
		{"parameters without kind, name or scope", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Name: "a/b"}
		}, errs{required("spec.parameters.kind"), invalid("spec.parameters.name", "may not contain '/'"), required("spec.parameters.scope")}},
		{"namespaced", func(ic *networkingv1.IngressClass) { ic.Namespace = "default" },
			errs{forbidden("metadata.namespace", "not allowed on this type")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateIngressClass(class(tt.mutate)), tt.want...)
		})
	}

	old := class(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	annotated := old.DeepCopy()
	annotated.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	annotated.Spec.Parameters = params("Cluster", nil)
	expectErrs(t, ValidateIngressClassUpdate(annotated, old))
	moved := old.DeepCopy()
	moved.Spec.Controller = "example.com/other"
	validationtest.ExpectMessage(t, ValidateIngressClassUpdate(moved, old),
		`spec.controller: Invalid value: "example.com/other": field is immutable`)
}
