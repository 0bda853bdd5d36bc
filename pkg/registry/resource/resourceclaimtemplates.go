package resource

import (
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/resource"
	printers "github.com/skiffhq/skiff/pkg/api/printers/resource"
	validation "github.com/skiffhq/skiff/pkg/api/validation/resource"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(resourceClaimTemplates) }

func resourceClaimTemplates(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ResourceClaimTemplate"), "resourceclaimtemplates", "resourceclaimtemplate", true,
		func() runtime.Object { return &resourcev1.ResourceClaimTemplate{} },
		func() runtime.Object { return &resourcev1.ResourceClaimTemplateList{} },
		printers.ResourceClaimTemplate())
	kind.Hooks[*resourcev1.ResourceClaimTemplate]{
		Default:        defaults.ResourceClaimTemplate,
		Validate:       validation.ValidateResourceClaimTemplate,
		ValidateUpdate: validation.ValidateResourceClaimTemplateUpdate,
	}.Install(r)
	return r
}
