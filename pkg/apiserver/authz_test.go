package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// nodeCertServer serves pods, nodes, service accounts, ClusterTrustBundles
// and PodCertificateRequests, holding pod "web" on node-1 (with a
// podCertificate volume for example.com/pods) and pod "db" on node-2.
func nodeCertServer(t *testing.T) (*Server, *Resource) {
	t.Helper()
	pods := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Name: "pods", Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.nodeName": obj.(*corev1.Pod).Spec.NodeName}
		}}
	nodes := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Node"), Name: "nodes",
		New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} }}
	sas := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("ServiceAccount"), Name: "serviceaccounts", Namespaced: true,
		New: func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} }}
	pcrs := &Resource{GVK: certificatesv1.SchemeGroupVersion.WithKind("PodCertificateRequest"), Name: "podcertificaterequests", Namespaced: true,
		New:     func() runtime.Object { return &certificatesv1.PodCertificateRequest{} },
		NewList: func() runtime.Object { return &certificatesv1.PodCertificateRequestList{} }}
	ctbs := &Resource{GVK: certificatesv1.SchemeGroupVersion.WithKind("ClusterTrustBundle"), Name: "clustertrustbundles",
		New:     func() runtime.Object { return &certificatesv1.ClusterTrustBundle{} },
		NewList: func() runtime.Object { return &certificatesv1.ClusterTrustBundleList{} }}
	s := New(Config{Storage: memory.New(), Registry: NewRegistry(pods, nodes, sas, pcrs, ctbs)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	certVolume := corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{PodCertificate: &corev1.PodCertificateProjection{SignerName: "example.com/pods", KeyType: "ED25519", CredentialBundlePath: "b.pem"}}}}}}
	for _, c := range []struct {
		res *Resource
		ns  string
		obj runtime.Object
	}{
		{nodes, "", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}},
		{sas, "default", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}},
		{pods, "default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "builder", Volumes: []corev1.Volume{certVolume}}}},
		{pods, "default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.PodSpec{NodeName: "node-2", ServiceAccountName: "builder", Volumes: []corev1.Volume{certVolume}}}},
	} {
		if _, err := s.create(ctx, c.res, c.ns, c.obj, false); err != nil {
			t.Fatal(err)
		}
	}
	return s, pcrs
}

// TestNodePodCertificates: a node may read ClusterTrustBundles, get the
// service accounts its pods run as, create PodCertificateRequests (for which
// pods is the kind's own admission's business, pkg/registry/certificates)
// and read only the requests that name it.
func TestNodePodCertificates(t *testing.T) {
	s, pcrs := nodeCertServer(t)
	node1 := User{Name: "system:node:node-1", Groups: []string{"system:nodes", "system:authenticated"}}
	ctx := WithUser(context.Background(), node1)
	uid := func(res, ns, name string) string {
		t.Helper()
		r := s.reg.Lookup("v1", res)
		e, _ := s.cache.get(r, r.key(ns, name))
		obj, err := e.object()
		if err != nil {
			t.Fatal(err)
		}
		return string(obj.(metav1.Object).GetUID())
	}
	request := func(pod, sa, signer string) *certificatesv1.PodCertificateRequest {
		return &certificatesv1.PodCertificateRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "req-"}, Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: signer, PodName: pod, PodUID: types.UID(uid("pods", "default", pod)),
			ServiceAccountName: sa, ServiceAccountUID: types.UID(uid("serviceaccounts", "default", "builder")),
			NodeName: "node-1", NodeUID: types.UID(uid("nodes", "", "node-1")), StubPKCS10Request: []byte("stub")}}
	}

	for _, tc := range []struct {
		a      attributes
		allow  bool
		reason string
	}{
		{a: attributes{verb: "list", group: "certificates.k8s.io", resource: "clustertrustbundles"}, allow: true},
		{a: attributes{verb: "watch", group: "certificates.k8s.io", resource: "clustertrustbundles"}, allow: true},
		{a: attributes{verb: "get", group: "certificates.k8s.io", resource: "clustertrustbundles", name: "x"}, allow: true},
		{a: attributes{verb: "create", group: "certificates.k8s.io", resource: "clustertrustbundles", name: "x"}},
		{a: attributes{verb: "get", resource: "serviceaccounts", namespace: "default", name: "builder"}, allow: true},
		{a: attributes{verb: "get", resource: "serviceaccounts", namespace: "default", name: "other"}, reason: "no relationship found between node 'node-1' and this object"},
		{a: attributes{verb: "create", group: "certificates.k8s.io", resource: "podcertificaterequests", namespace: "default"}, allow: true},
		{a: attributes{verb: "update", group: "certificates.k8s.io", resource: "podcertificaterequests", namespace: "default", name: "x", subresource: "status"},
			reason: "nodes may not access the status subresource of PodCertificateRequests"},
		{a: attributes{verb: "list", group: "certificates.k8s.io", resource: "podcertificaterequests", fieldSelector: "spec.nodeName=node-1"}, allow: true},
		{a: attributes{verb: "list", group: "certificates.k8s.io", resource: "podcertificaterequests"},
			reason: "can only list/watch podcertificaterequests with nodeName field selector"},
		{a: attributes{verb: "delete", group: "certificates.k8s.io", resource: "podcertificaterequests", namespace: "default", name: "x"}},
	} {
		tc.a.user, tc.a.resourceRequest = node1, true
		ok, why := s.decide(tc.a)
		if ok != tc.allow || why != tc.reason {
			t.Errorf("%s %s/%s: allowed=%v (%q), want %v (%q)", tc.a.verb, tc.a.resource, tc.a.subresource, ok, why, tc.allow, tc.reason)
		}
	}

	raw, err := s.create(ctx, pcrs, "default", request("web", "builder", "example.com/pods"), false)
	if err != nil {
		t.Fatalf("request for a pod of the node: %v", err)
	}
	if !strings.Contains(string(raw), `"nodeName":"node-1"`) {
		t.Errorf("stored %s", raw)
	}
	mine := &certificatesv1.PodCertificateRequest{}
	if err := json.Unmarshal(raw, mine); err != nil {
		t.Fatal(err)
	}
	if ok, why := s.decide(attributes{user: node1, resourceRequest: true, verb: "get", group: "certificates.k8s.io", resource: "podcertificaterequests", namespace: "default", name: mine.Name}); !ok {
		t.Errorf("get of its own request refused: %s", why)
	}
	node2 := User{Name: "system:node:node-2", Groups: []string{"system:nodes"}}
	if ok, why := s.decide(attributes{user: node2, resourceRequest: true, verb: "get", group: "certificates.k8s.io", resource: "podcertificaterequests", namespace: "default", name: mine.Name}); ok ||
		why != "no relationship found between node 'node-2' and this object" {
		t.Errorf("another node's get: allowed=%v (%q)", ok, why)
	}
}
