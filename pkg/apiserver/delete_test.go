package apiserver

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPropagationFinalizers(t *testing.T) {
	orphanPolicy := metav1.DeletePropagationOrphan
	background := metav1.DeletePropagationBackground
	foreground := metav1.DeletePropagationForeground
	yes := true
	cases := []struct {
		name          string
		cur           []string
		opts          metav1.DeleteOptions
		orphanDefault bool
		want          []string
	}{
		{"no policy, deleted in background", nil, metav1.DeleteOptions{}, false, nil},
		{"no policy, kind orphans by default", nil, metav1.DeleteOptions{}, true, []string{metav1.FinalizerOrphanDependents}},
		{"no policy, foreground already pending", []string{metav1.FinalizerDeleteDependents}, metav1.DeleteOptions{}, true, []string{metav1.FinalizerDeleteDependents}},
		{"background on a kind that orphans", nil, metav1.DeleteOptions{PropagationPolicy: &background}, true, []string{}},
		{"foreground on a kind that orphans", []string{"x"}, metav1.DeleteOptions{PropagationPolicy: &foreground}, true, []string{"x", metav1.FinalizerDeleteDependents}},
		{"orphan policy", nil, metav1.DeleteOptions{PropagationPolicy: &orphanPolicy}, false, []string{metav1.FinalizerOrphanDependents}},
		{"orphanDependents true", nil, metav1.DeleteOptions{OrphanDependents: &yes}, false, []string{metav1.FinalizerOrphanDependents}},
	}
	for _, c := range cases {
		got := propagationFinalizers(c.cur, &c.opts, c.orphanDefault)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: finalizers %q, want %q", c.name, got, c.want)
		}
	}
}
