package printers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kinds in this file print a name, a count or a word, and an age.

// Namespace prints NAME, STATUS and AGE.
func Namespace() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		AgeColumn(),
	}, func(ns *corev1.Namespace, now time.Time) []interface{} {
		return []interface{}{ns.Name, string(ns.Status.Phase), Age(ns.ObjectMeta, now)}
	})
}

// ConfigMap prints NAME, DATA (the number of keys) and AGE.
func ConfigMap() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Data", Type: "string", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]},
		AgeColumn(),
	}, func(cm *corev1.ConfigMap, now time.Time) []interface{} {
		return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), Age(cm.ObjectMeta, now)}
	})
}

// Secret prints NAME, TYPE, DATA (the number of keys) and AGE.
func Secret() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Type", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["type"]},
		{Name: "Data", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["data"]},
		AgeColumn(),
	}, func(s *corev1.Secret, now time.Time) []interface{} {
		// stringData is write-only: the API server folds it into data, so
		// its keys count even if a caller has not folded them yet.
		keys := len(s.Data)
		for k := range s.StringData {
			if _, dup := s.Data[k]; !dup {
				keys++
			}
		}
		return []interface{}{s.Name, string(s.Type), int64(keys), Age(s.ObjectMeta, now)}
	})
}

// ServiceAccount prints NAME, SECRETS and AGE.
func ServiceAccount() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
		AgeColumn(),
	}, func(sa *corev1.ServiceAccount, now time.Time) []interface{} {
		return []interface{}{sa.Name, int64(len(sa.Secrets)), Age(sa.ObjectMeta, now)}
	})
}
