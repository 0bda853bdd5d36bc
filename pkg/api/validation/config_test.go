package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var objMeta = metav1.ObjectMeta{Name: "app-config", Namespace: "default"}

func TestValidateConfigMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		cm   corev1.ConfigMap
		want []e
	}{
		{"valid", corev1.ConfigMap{ObjectMeta: objMeta, Data: map[string]string{"app.conf": "x", "KEY_1": "y"}, BinaryData: map[string][]byte{"logo.png": {1}}}, nil},
		{"keys", corev1.ConfigMap{ObjectMeta: objMeta, Data: map[string]string{"a/b": "x", "..": "y"}, BinaryData: map[string][]byte{"c d": nil}}, []e{
			invalid("data[a/b]", "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
			invalid("data[..]", "must not be '..'"),
			invalid("binaryData[c d]", "a valid config key"),
		}},
		{"key in both", corev1.ConfigMap{ObjectMeta: objMeta, Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": {1}}},
			[]e{invalid("data[k]", "duplicate of key present in binaryData")}},
		{"too large", corev1.ConfigMap{ObjectMeta: objMeta, Data: map[string]string{"a": strings.Repeat("x", 1<<19), "b": strings.Repeat("x", 1<<19+1)}},
			// Upstream reports the whole object, which prints as "[]".
			[]e{tooLong("[]")}},
		{"name", corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "App", Namespace: "default"}}, []e{invalid("metadata.name", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateConfigMap(&tc.cm), tc.want...) })
	}

	old := &corev1.ConfigMap{ObjectMeta: stored(objMeta), Data: map[string]string{"k": "v"}, Immutable: ptr.To(true)}
	same := old.DeepCopy()
	same.Labels = map[string]string{"a": "b"}
	expectErrs(t, ValidateConfigMapUpdate(same, old))
	changed := old.DeepCopy()
	changed.Data["k"] = "w"
	changed.BinaryData = map[string][]byte{"b": nil}
	changed.Immutable = nil
	expectErrs(t, ValidateConfigMapUpdate(changed, old),
		forbidden("immutable", "field is immutable when `immutable` is set"),
		forbidden("data", "field is immutable when `immutable` is set"),
		forbidden("binaryData", "field is immutable when `immutable` is set"))
	mutable := old.DeepCopy()
	mutable.Immutable = ptr.To(false)
	old.Immutable = ptr.To(false)
	mutable.Data["k"] = "w"
	expectErrs(t, ValidateConfigMapUpdate(mutable, old))
}

func TestValidateSecret(t *testing.T) {
	secret := func(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"}, Type: typ, Data: data}
	}
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret
		want   []e
	}{
		{"opaque", secret(corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("x")}), nil},
		{"custom type", secret("example.com/thing", nil), nil},
		{"bad key", secret(corev1.SecretTypeOpaque, map[string][]byte{"pass word": nil}), []e{invalid("data[pass word]", "a valid config key")}},
		{"too large", secret(corev1.SecretTypeOpaque, map[string][]byte{"a": make([]byte, 1<<20+1)}), []e{tooLong("data")}},
		{"tls without keys", secret(corev1.SecretTypeTLS, nil), []e{required("data[tls.crt]"), required("data[tls.key]")}},
		{"tls", secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": {}, "tls.key": {}}), nil},
		{"docker config json", secret(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte("{")}),
			[]e{invalid("data[.dockerconfigjson]", "unexpected end of JSON input")}},
		{"docker config json missing", secret(corev1.SecretTypeDockerConfigJson, nil), []e{required("data[.dockerconfigjson]")}},
		{"dockercfg", secret(corev1.SecretTypeDockercfg, map[string][]byte{".dockercfg": []byte(`{"r":{}}`)}), nil},
		{"basic auth", secret(corev1.SecretTypeBasicAuth, map[string][]byte{}), []e{required("data[username]"), required("data[password]")}},
		{"basic auth password only", secret(corev1.SecretTypeBasicAuth, map[string][]byte{"password": nil}), nil},
		{"ssh", secret(corev1.SecretTypeSSHAuth, nil), []e{required("data[ssh-privatekey]")}},
		{"token without account", secret(corev1.SecretTypeServiceAccountToken, nil), []e{required("metadata.annotations[kubernetes.io/service-account.name]")}},
	} {
		t.Run(tc.name, func(t *testing.T) { expectErrs(t, ValidateSecret(tc.secret), tc.want...) })
	}

	// The redacted placeholder, never the content, goes in the message.
	s := secret(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte("hunter2")})
	if msg := ValidateSecret(s).ToAggregate().Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, "<secret contents redacted>") {
		t.Errorf("message leaks or lacks redaction: %s", msg)
	}

	old := secret(corev1.SecretTypeOpaque, map[string][]byte{"k": []byte("v")})
	old.ObjectMeta = stored(old.ObjectMeta)
	retyped := old.DeepCopy()
	retyped.Type = corev1.SecretTypeTLS
	retyped.Data = map[string][]byte{"tls.crt": {}, "tls.key": {}}
	expectErrs(t, ValidateSecretUpdate(retyped, old), invalid("type", "field is immutable"))

	old.Immutable = ptr.To(true)
	changed := old.DeepCopy()
	changed.Data["k"] = []byte("w")
	expectErrs(t, ValidateSecretUpdate(changed, old), forbidden("data", "field is immutable when `immutable` is set"))
	unlocked := old.DeepCopy()
	unlocked.Immutable = ptr.To(false)
	expectErrs(t, ValidateSecretUpdate(unlocked, old), forbidden("immutable", "field is immutable when `immutable` is set"))
}

func TestValidateServiceAccount(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot.v1", Namespace: "default"}}
	expectErrs(t, ValidateServiceAccount(sa))
	sa.Name = "Robot"
	expectErrs(t, ValidateServiceAccount(sa), invalid("metadata.name", "RFC 1123 subdomain"))

	old := &corev1.ServiceAccount{ObjectMeta: stored(metav1.ObjectMeta{Name: "robot", Namespace: "default"})}
	upd := old.DeepCopy()
	upd.Secrets = []corev1.ObjectReference{{Name: "robot-token"}}
	expectErrs(t, ValidateServiceAccountUpdate(upd, old))
	upd.Namespace = "other"
	expectErrs(t, ValidateServiceAccountUpdate(upd, old), invalid("metadata.namespace", "field is immutable"))
}
