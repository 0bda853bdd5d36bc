package resource

import (
	"context"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/resource"
	printers "github.com/skiffhq/skiff/pkg/api/printers/resource"
	validation "github.com/skiffhq/skiff/pkg/api/validation/resource"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(deviceTaintRules) }

// deviceTaintRules: the status (conditions) is the eviction controller's,
// written through /status only. In v1, as upstream, an update must name the
// resourceVersion it read.
func deviceTaintRules(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("DeviceTaintRule"), "devicetaintrules", "devicetaintrule", false,
		func() runtime.Object { return &resourcev1.DeviceTaintRule{} },
		func() runtime.Object { return &resourcev1.DeviceTaintRuleList{} },
		printers.DeviceTaintRule())
	r.Status = true
	r.RequireResourceVersion = true
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		restampTaint(obj.(*resourcev1.DeviceTaintRule), old.(*resourcev1.DeviceTaintRule))
		return nil
	}
	kind.Hooks[*resourcev1.DeviceTaintRule]{
		Default:              defaults.DeviceTaintRule,
		Validate:             validation.ValidateDeviceTaintRule,
		ValidateUpdate:       validation.ValidateDeviceTaintRuleUpdate,
		ValidateStatusUpdate: validation.ValidateDeviceTaintRuleStatusUpdate,
		Desired:              func(r *resourcev1.DeviceTaintRule) any { return r.Spec },
	}.Install(r)
	return r
}

// restampTaint: a new effect is a new taint, so it is added now unless the
// client said when.
func restampTaint(rule, old *resourcev1.DeviceTaintRule) {
	if rule.Spec.Taint.Effect != old.Spec.Taint.Effect && rule.Spec.Taint.TimeAdded.Equal(old.Spec.Taint.TimeAdded) {
		rule.Spec.Taint.TimeAdded = &metav1.Time{Time: time.Now().Truncate(time.Second)}
	}
}
