package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// Secret defaults a secret: type Opaque, and the write-only stringData merged
// into data (winning over data on the same key) and then dropped, as upstream
// does while decoding.
func Secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}
