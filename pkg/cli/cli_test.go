package cli

import (
	"strings"
	"testing"
)

// TestKubectlTreeOnlyWhenUsed: the upstream kubectl tree is built for `skiff
// kubectl`, for help and for what is not one of skiff's own commands (so an
// unknown one still gets kubectl among its suggestions), and not for the others.
func TestKubectlTreeOnlyWhenUsed(t *testing.T) {
	for _, tc := range []struct {
		args    string
		kubectl bool
	}{
		{"server --data-dir /tmp/x --hollow-nodes 3", false},
		{"agent --server https://10.0.0.1:6443 --token t", false},
		{"image ls", false},
		{"service kubia-http", false},
		{"killall --data-dir /tmp/x", false},
		{"uninstall", false},
		{"kubectl get pods -o wide", true},
		{"kubectl", true},
		{"", true},
		{"help kubectl", true},
		{"--help", true},
		{"completion bash", true},
		{"kubectll", true},
	} {
		root := newRoot(strings.Fields(tc.args))
		has := false
		for _, c := range root.Commands() {
			has = has || c.Name() == "kubectl"
		}
		if has != tc.kubectl {
			t.Errorf("skiff %s: kubectl tree built %v, want %v", tc.args, has, tc.kubectl)
		}
	}
}
