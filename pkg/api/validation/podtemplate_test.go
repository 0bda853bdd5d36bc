package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestValidatePodTemplate: templates differ from pods in a few ways.
func TestValidatePodTemplate(t *testing.T) {
	pt := &corev1.PodTemplate{}
	pt.Name, pt.Namespace = "web", "default"
	pt.Template.Labels = map[string]string{"app": "web"}
	pt.Template.Spec = validPod().Spec
	pt.Template.Spec.HostNetwork = true
	pt.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}} // hostPort 0 is fine in a template
	pt.Template.Spec.Containers[0].Image = " "                                                                       // a placeholder a controller fills
	expectErrs(t, ValidatePodTemplate(pt))

	pt.Template.Labels = map[string]string{"app": "not valid"}
	pt.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}}
	expectErrs(t, ValidatePodTemplate(pt),
		invalid("template.labels", ""),
		forbidden("template.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"),
	)

	old := pt.DeepCopy()
	old.ObjectMeta = stored(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Name = "other"
	upd.Template.Labels = nil
	upd.Template.Spec.EphemeralContainers = nil
	expectErrs(t, ValidatePodTemplateUpdate(upd, old), invalid("metadata.name", "field is immutable"))
}
