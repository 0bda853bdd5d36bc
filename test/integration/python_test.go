package integration

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/test/harness"
)

// debianPython is Debian's interpreter, which sees Debian's python3-kubernetes
// (a python3 earlier on PATH, such as pyenv's, may not).
const debianPython = "/usr/bin/python3"

// TestPythonClient runs the official Python client (Debian's
// python3-kubernetes, which .ci/run installs) against the server: it creates,
// lists, watches (sending watch=True) and deletes.
func TestPythonClient(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import kubernetes").Run(); err != nil {
		t.Skipf("the Python client is not installed (apt-get install python3-kubernetes): %v", err)
	}
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	out, err := exec.Command(debianPython, "testdata/python_client.py", c.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	want := []string{
		"created py-a py-a",
		"listed py-a",
		"watched ADDED py-b",
		"initial ADDED py-a,ADDED py-b",
		"left 0",
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the Python client saw:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}
