package apiserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestSubresourceAdmission: writes to /status and to a part are admitted by
// their own hooks, with the request's user, after validation (which answers
// first), as upstream's validating admission; a write to the main resource
// by neither.
func TestSubresourceAdmission(t *testing.T) {
	var calls []string
	refuse := func(hook string) func(ctx context.Context, _ View, obj, _ runtime.Object) error {
		return func(ctx context.Context, _ View, obj runtime.Object, _ runtime.Object) error {
			u, _ := UserFrom(ctx)
			calls = append(calls, hook+" by "+u.Name)
			if obj.(*corev1.Namespace).Labels["refuse"] != "" {
				return apierrors.NewForbidden(corev1.Resource("namespaces"), "n", errors.New(hook+" refused"))
			}
			return nil
		}
	}
	validate := func(obj, _ runtime.Object) field.ErrorList {
		if obj.(*corev1.Namespace).Labels["invalid"] != "" {
			return field.ErrorList{field.Invalid(field.NewPath("metadata", "labels"), "", "invalid")}
		}
		return nil
	}
	part := &Part{
		Take:     func(stored, obj runtime.Object) { stored.(*corev1.Namespace).Labels = obj.(*corev1.Namespace).Labels },
		Validate: validate,
		Admit:    refuse("part"),
	}
	res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Name: "namespaces", Status: true,
		New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} },
		ValidateUpdate: validate, AdmitStatusUpdate: refuse("status"),
		Subresources: []Subresource{{Name: "labels", Kind: corev1.SchemeGroupVersion.WithKind("Namespace"), Part: part}}}
	s := New(Config{Storage: memory.New(), Registry: NewRegistry(res)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	if _, err := s.create(ctx, res, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, false); err != nil {
		t.Fatal(err)
	}
	ctx = withUser(ctx, User{Name: "alice"})
	write := func(mode writeMode, label string) error {
		_, _, err := s.updateWith(ctx, request{res: res, name: "n", part: part}, mode, false, func(old runtime.Object) (runtime.Object, error) {
			ns := old.(*corev1.Namespace)
			ns.Labels = map[string]string{label: "y"}
			return ns, nil
		})
		return err
	}
	for _, tc := range []struct {
		mode  writeMode
		label string
		calls []string
		err   string
	}{
		{writeMain, "refuse", nil, ""},
		{writeStatus, "ok", []string{"status by alice"}, ""},
		{writeStatus, "invalid", nil, "is invalid"},
		{writeStatus, "refuse", []string{"status by alice"}, "status refused"},
		{writePart, "ok", []string{"part by alice"}, ""},
		{writePart, "invalid", nil, "is invalid"},
		{writePart, "refuse", []string{"part by alice"}, "part refused"},
	} {
		calls = nil
		err := write(tc.mode, tc.label)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("mode %d, label %s: %v, want %q", tc.mode, tc.label, err, tc.err)
		}
		if len(calls) != len(tc.calls) || len(calls) > 0 && calls[0] != tc.calls[0] {
			t.Errorf("mode %d, label %s: admitted %q, want %q", tc.mode, tc.label, calls, tc.calls)
		}
	}
}
