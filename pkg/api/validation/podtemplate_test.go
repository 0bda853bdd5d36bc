package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
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
	pt.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("debugger")}
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

// TestValidatePodTemplateAsUpstream checks the field paths and messages
// kubectl shows for an invalid PodTemplate against upstream's (ValidatePodTemplate
// and ValidatePodTemplateSpec in k8s.io/kubernetes/pkg/apis/core/validation).
func TestValidatePodTemplateAsUpstream(t *testing.T) {
	template := func(mutate func(*corev1.PodTemplate)) *corev1.PodTemplate {
		pt := &corev1.PodTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		}
		if mutate != nil {
			mutate(pt)
		}
		defaults.PodTemplate(pt)
		return pt
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodTemplate)
		want   string // the whole message, as kubectl prints it after `is invalid: `
	}{
		{"restart policy", func(pt *corev1.PodTemplate) { pt.Template.Spec.RestartPolicy = "Sometimes" },
			`template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
		{"no containers", func(pt *corev1.PodTemplate) { pt.Template.Spec.Containers = nil },
			`template.spec.containers: Required value`},
		{"container without image", func(pt *corev1.PodTemplate) { pt.Template.Spec.Containers[0].Image = "" },
			`template.spec.containers[0].image: Required value`},
		{"container name", func(pt *corev1.PodTemplate) { pt.Template.Spec.Containers[0].Name = "Web" },
			`template.spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"dns policy", func(pt *corev1.PodTemplate) { pt.Template.Spec.DNSPolicy = "Public" },
			`template.spec.dnsPolicy: Unsupported value: "Public": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`},
		{"template annotation key", func(pt *corev1.PodTemplate) { pt.Template.Annotations = map[string]string{"a b": "x"} },
			`template.annotations: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		{"object name", func(pt *corev1.PodTemplate) { pt.Name = "Web" },
			`metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"no namespace", func(pt *corev1.PodTemplate) { pt.Namespace = "" },
			`metadata.namespace: Required value`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidatePodTemplate(template(tc.mutate)), tc.want) })
	}

	// Upstream checks only the labels and annotations of the template's own
	// metadata: a name there is neither required nor checked. And a negative
	// grace period is refused on pod create, not in a template.
	lax := template(func(pt *corev1.PodTemplate) {
		pt.Template.Name = "Not A Name"
		pt.Template.Spec.TerminationGracePeriodSeconds = ptr.To(int64(-1))
	})
	expectErrs(t, ValidatePodTemplate(lax))
	// Defaulting fills what a template may leave out; without it, the
	// grace period is missing as upstream would report it.
	bare := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "default"},
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}}
	expectErrs(t, ValidatePodTemplate(bare),
		required("template.spec.terminationGracePeriodSeconds"),
		required("template.spec.restartPolicy"),
		required("template.spec.dnsPolicy"),
		required("template.spec.containers[0].imagePullPolicy"),
		required("template.spec.containers[0].terminationMessagePolicy"),
	)
}
