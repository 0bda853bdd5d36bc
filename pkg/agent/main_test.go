package agent_test

import (
	"os"
	"testing"

	"github.com/skiffhq/skiff/pkg/agent/agenttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.RemoveBuilt()
	os.Exit(code)
}
