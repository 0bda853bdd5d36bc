package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestAdmitRunsWhereUpstreamAdmits: a create admits the object after
// defaulting and before its name is generated and it is validated (so
// validation judges what admission made of it), dry runs included; an
// admission error answers as it is. An update admits after defaulting,
// before validation.
func TestAdmitRunsWhereUpstreamAdmits(t *testing.T) {
	type seen struct{ name, uid, defaulted string }
	var admitted []seen
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Name: "configmaps", Namespaced: true,
		New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }}
	res.Default = func(obj runtime.Object) {
		cm := obj.(*corev1.ConfigMap)
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["defaulted"] = "yes"
	}
	res.Admit = func(_ context.Context, _ View, obj runtime.Object) error {
		cm := obj.(*corev1.ConfigMap)
		admitted = append(admitted, seen{cm.Name, string(cm.UID), cm.Data["defaulted"]})
		if cm.Data["refuse"] != "" {
			return apierrors.NewForbidden(res.groupResource(), cm.GenerateName, errors.New("refused by admission"))
		}
		cm.Data["admitted"] = "yes"
		return nil
	}
	res.AdmitUpdate = func(_ context.Context, _ View, obj, _ runtime.Object) error {
		obj.(*corev1.ConfigMap).Data["admitted"] = "again"
		return nil
	}
	validate := func(obj runtime.Object) field.ErrorList {
		if obj.(*corev1.ConfigMap).Data["admitted"] == "" {
			return field.ErrorList{field.Required(field.NewPath("data", "admitted"), "validated before admission")}
		}
		return nil
	}
	res.Validate = validate
	res.ValidateUpdate = func(obj, _ runtime.Object) field.ErrorList { return validate(obj) }

	s := New(Config{Storage: memory.New(), Registry: NewRegistry(res)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()

	create := func(cm *corev1.ConfigMap, dryRun bool) (*corev1.ConfigMap, error) {
		raw, err := s.create(ctx, res, "default", cm, dryRun)
		if err != nil {
			return nil, err
		}
		out := &corev1.ConfigMap{}
		return out, json.Unmarshal(raw, out)
	}
	got, err := create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "cm-"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["admitted"] != "yes" || len(got.Name) != len("cm-")+5 || got.UID == "" {
		t.Errorf("stored %s (uid %q) with data %v; want a generated name and admitted data", got.Name, got.UID, got.Data)
	}
	if _, err := create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, true); err != nil {
		t.Fatal(err)
	}
	_, err = create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "no-"}, Data: map[string]string{"refuse": "y"}}, false)
	if !apierrors.IsForbidden(err) || err.Error() != `configmaps "no-" is forbidden: refused by admission` {
		t.Errorf("a refused create: %v; want admission's Forbidden as it was", err)
	}
	want := []seen{{"", "", "yes"}, {"dry", "", "yes"}, {"", "", "yes"}}
	if len(admitted) != len(want) {
		t.Fatalf("admitted %+v; want %+v", admitted, want)
	}
	for i := range want {
		if admitted[i] != want[i] {
			t.Errorf("admission %d saw name %q, uid %q, defaulted %q; want %+v", i, admitted[i].name, admitted[i].uid, admitted[i].defaulted, want[i])
		}
	}

	// An update drops the admitted key; admission puts one back before validation.
	raw, _, err := s.updateWith(ctx, request{res: res, namespace: "default", name: got.Name}, writeMain, false,
		func(old runtime.Object) (runtime.Object, error) {
			cm := old.(*corev1.ConfigMap)
			delete(cm.Data, "admitted")
			return cm, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	updated := &corev1.ConfigMap{}
	if err := json.Unmarshal(raw, updated); err != nil || updated.Data["admitted"] != "again" {
		t.Errorf("updated to %v (%v); want data admitted again", updated.Data, err)
	}
}
