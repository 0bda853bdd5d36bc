package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateObjectMeta(t *testing.T) {
	big := strings.Repeat("x", 256*1024)
	for _, tc := range []struct {
		name       string
		meta       metav1.ObjectMeta
		namespaced bool
		nameFn     NameFunc
		want       []e
	}{
		{name: "valid", meta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"}, namespaced: true, nameFn: ValidatePodName},
		{name: "subdomain with dots", meta: metav1.ObjectMeta{Name: "web.v1", Namespace: "default"}, namespaced: true, nameFn: ValidatePodName},
		{name: "no name", meta: metav1.ObjectMeta{Namespace: "default"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{{field.ErrorTypeRequired, "metadata.name", "name or generateName is required"}}},
		{name: "generated name", meta: metav1.ObjectMeta{GenerateName: "web-", Name: "web-x7k2p", Namespace: "default"}, namespaced: true, nameFn: ValidatePodName},
		{name: "bad generateName", meta: metav1.ObjectMeta{GenerateName: "Web-", Name: "Web-x7k2p", Namespace: "default"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.generateName", "RFC 1123 subdomain"), invalid("metadata.name", "RFC 1123 subdomain")}},
		{name: "uppercase", meta: metav1.ObjectMeta{Name: "Web", Namespace: "default"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.name", "a lowercase RFC 1123 subdomain")}},
		{name: "too long", meta: metav1.ObjectMeta{Name: strings.Repeat("a", 254), Namespace: "default"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.name", "must be no more than 253 characters")}},
		{name: "service name starts with digit", meta: metav1.ObjectMeta{Name: "1web", Namespace: "default"}, namespaced: true, nameFn: ValidateServiceName},
		{name: "service name with dot", meta: metav1.ObjectMeta{Name: "web.v1", Namespace: "default"}, namespaced: true, nameFn: ValidateServiceName,
			want: []e{invalid("metadata.name", "must not contain dots")}},
		{name: "namespace name with dot", meta: metav1.ObjectMeta{Name: "team.a"}, nameFn: ValidateNamespaceName,
			want: []e{invalid("metadata.name", "must not contain dots")}},
		{name: "namespace missing", meta: metav1.ObjectMeta{Name: "web"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{required("metadata.namespace")}},
		{name: "namespace invalid", meta: metav1.ObjectMeta{Name: "web", Namespace: "Team_A"}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.namespace", "RFC 1123 label")}},
		{name: "namespace on cluster-scoped", meta: metav1.ObjectMeta{Name: "node-1", Namespace: "default"}, nameFn: ValidateNodeName,
			want: []e{forbidden("metadata.namespace", "not allowed on this type")}},
		{name: "label key", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"bad key": "v"}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.labels", "name part must consist of")}},
		{name: "label value", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "-web"}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.labels", "a valid label must be")}},
		{name: "annotation key", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{"a/b/c": "v"}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.annotations", "a valid label key must consist of")}},
		{name: "annotations too large", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{"a": big}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{tooLong("metadata.annotations")}},
		{name: "standard and qualified finalizers", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Finalizers: []string{"kubernetes", "orphan", "example.com/cleanup"}}, namespaced: true, nameFn: ValidatePodName},
		{name: "unqualified finalizer", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Finalizers: []string{"cleanup"}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.finalizers[0]", "name is neither a standard finalizer name nor is it fully qualified")}},
		{name: "negative generation", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: -1}, namespaced: true, nameFn: ValidatePodName,
			want: []e{invalid("metadata.generation", "must be greater than or equal to 0")}},
		{name: "owner reference", meta: metav1.ObjectMeta{Name: "web", Namespace: "default", OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "web"}}}, namespaced: true, nameFn: ValidatePodName,
			want: []e{required("metadata.ownerReferences[0].uid")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectErrs(t, ValidateObjectMeta(&tc.meta, tc.namespaced, tc.nameFn, metadataPath), tc.want...)
		})
	}
}

// TestObjectMetaMessages pins whole lines, as kubectl prints them.
func TestObjectMetaMessages(t *testing.T) {
	p := validPod()
	p.Name = "My_Pod"
	expectMessage(t, ValidatePod(p),
		`metadata.name: Invalid value: "My_Pod": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "Team"}}
	expectMessage(t, ValidateNamespace(ns),
		`metadata.name: Invalid value: "Team": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`)
}

func TestValidateObjectMetaUpdate(t *testing.T) {
	old := stored(metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: metav1.Unix(1700000000, 0), Labels: map[string]string{"a": "1"}})
	for _, tc := range []struct {
		name   string
		mutate func(*metav1.ObjectMeta)
		want   []e
	}{
		{name: "labels and annotations may change", mutate: func(m *metav1.ObjectMeta) {
			m.Labels = map[string]string{"a": "2", "b": "3"}
			m.Annotations = map[string]string{"note": "x"}
		}},
		{name: "name", mutate: func(m *metav1.ObjectMeta) { m.Name = "other" },
			want: []e{invalid("metadata.name", "field is immutable")}},
		{name: "namespace", mutate: func(m *metav1.ObjectMeta) { m.Namespace = "kube-system" },
			want: []e{invalid("metadata.namespace", "field is immutable")}},
		{name: "uid", mutate: func(m *metav1.ObjectMeta) { m.UID = "other" },
			want: []e{invalid("metadata.uid", "field is immutable")}},
		{name: "creationTimestamp", mutate: func(m *metav1.ObjectMeta) { m.CreationTimestamp = metav1.Unix(1, 0) },
			want: []e{invalid("metadata.creationTimestamp", "field is immutable")}},
		{name: "no resourceVersion", mutate: func(m *metav1.ObjectMeta) { m.ResourceVersion = "" },
			want: []e{invalid("metadata.resourceVersion", "must be specified for an update")}},
		{name: "generation decremented", mutate: func(m *metav1.ObjectMeta) { m.Generation = -1 },
			want: []e{invalid("metadata.generation", "must be greater than or equal to 0"), invalid("metadata.generation", "must not be decremented")}},
		{name: "bad label", mutate: func(m *metav1.ObjectMeta) { m.Labels = map[string]string{"a": "not valid"} },
			want: []e{invalid("metadata.labels", "")}},
		{name: "unqualified finalizer", mutate: func(m *metav1.ObjectMeta) { m.Finalizers = []string{"mine"} },
			want: []e{invalid("metadata.finalizers[0]", "neither a standard finalizer")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := *old.DeepCopy()
			tc.mutate(&m)
			expectErrs(t, ValidateObjectMetaUpdate(&m, &old, metadataPath), tc.want...)
		})
	}

	deleting := old.DeepCopy()
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	m := *deleting.DeepCopy()
	m.Finalizers = []string{"example.com/late"}
	expectErrs(t, ValidateObjectMetaUpdate(&m, deleting, metadataPath),
		forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted"))
}
